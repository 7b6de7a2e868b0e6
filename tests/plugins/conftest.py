"""A real nats-server for plugin tests."""

from __future__ import annotations

import pytest

from karez.embedded_nats import EmbeddedNats


@pytest.fixture
def nats_server():
    """A real nats-server with JetStream on a free loopback port."""
    with EmbeddedNats() as server:
        yield server

"""A real mock server (uvicorn on a free loopback port) serving the datahall example."""

from __future__ import annotations

import pytest

from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.mock.service import example_service


@pytest.fixture
def mock_server():
    """A running mock server for the datahall example (seed 11); yields the BackgroundServer."""
    with BackgroundServer(create_asgi(example_service(seed=11))) as server:
        yield server

"""Fixtures for flow tests: Prefect without the heartbeat thread, a real nats-server, the example's files."""

from __future__ import annotations

import pytest

from karez.embedded_nats import EmbeddedNats
from tiro.examples import example_dir, example_files


@pytest.fixture(scope="session", autouse=True)
def _no_flow_heartbeat():
    """Sync flows otherwise wait ~1 s each for the heartbeat thread (prefect-notes.md)."""
    from prefect.settings import temporary_settings

    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        yield


@pytest.fixture
def nats_server():
    """A real nats-server with JetStream on a free loopback port."""
    with EmbeddedNats() as server:
        yield server


@pytest.fixture(scope="session")
def datahall() -> tuple[str, list[str]]:
    """(scenario file, uses files) of the shipped datahall example, as strings."""
    scenario, uses = example_files(example_dir("datahall"))
    return str(scenario), [str(u) for u in uses]

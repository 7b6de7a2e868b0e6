"""Test-wide settings: Prefect runs against a throw-away in-memory API, never a user's profile or server."""

from __future__ import annotations

import os
import tempfile

# Set before anything imports prefect (see ../shared/spec/prefect-notes.md): a temp PREFECT_HOME, the in-memory
# database and no analytics, so flow tests start in seconds and never touch a real profile.
_prefect_home = tempfile.mkdtemp(prefix="tiro-prefect-home-")
os.environ["PREFECT_HOME"] = _prefect_home
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_PROFILE", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_ENABLED", "true")
os.environ.setdefault("PREFECT_SERVER_DATABASE_CONNECTION_URL", "sqlite+aiosqlite:///:memory:")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


import pytest  # noqa: E402 - after the environment above, which must be set before anything imports prefect

from karez.embedded_nats import EmbeddedNats  # noqa: E402


@pytest.fixture
def nats_server():
    """A real nats-server with JetStream on a free loopback port (folders needing another scope override it)."""
    with EmbeddedNats() as server:
        yield server


def _mock_collector_yaml(mock_url: str, converters: list[str], *, key: str = "converter") -> str:
    """The walkthrough's dispatcher and connector (every second, 10 paths per task) feeding `converters`."""
    listed = "".join(f"      - {name}\n" for name in converters)
    return (
        "dispatchers:\n  - type: tiro_mock\n    connector: tiro_mock\n    by: path\n    batch_size: 10\n"
        f"    interval: 1\n    mode: burst\n    base_url: {mock_url}\n\n"
        f"connectors:\n  - type: tiro_mock\n    base_url: {mock_url}\n    by: path\n    {key}:\n{listed}\n"
    )


@pytest.fixture
def mock_collector_yaml():
    """mock_collector_yaml(mock_url, converters, key="converter"): the Karez YAML of the walkthrough's collector."""
    return _mock_collector_yaml


class LoopTicks:
    """Passes of the event loop counted by a background task, and the longest time between two of them."""

    def __init__(self) -> None:
        self.count = 0
        self.longest_gap = 0.0


@pytest.fixture
async def loop_ticks():
    """A LoopTicks that a background task updates at every pass of the event loop: it stands still while the loop is
    blocked, so a test can tell blocking work from work that lets the loop run."""
    import asyncio
    import time

    ticks = LoopTicks()

    async def tick() -> None:
        last = time.monotonic()
        while True:
            now = time.monotonic()
            ticks.longest_gap = max(ticks.longest_gap, now - last)
            ticks.count += 1
            last = now
            await asyncio.sleep(0)

    task = asyncio.create_task(tick())
    yield ticks
    task.cancel()

"""A real `prefect server start` for end-to-end tests: its own home and SQLite database, a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from process_groups import stop_group

from karez.embedded_nats import free_port

PREFECT = str(Path(sys.executable).with_name("prefect"))


@dataclass
class PrefectServer:
    """The running server: its environment (for clients, workers and the CLI), API URL and UI URL."""

    env: dict[str, str]
    api: str
    ui: str
    process: subprocess.Popen


def wait_healthy(api: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Poll `/health` until the server answers; fail with the end of its log when it exits or never answers."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "prefect server did not become healthy"
        time.sleep(0.5)  # polling a child process


@contextmanager
def prefect_server(home: Path, **settings: str) -> Iterator[PrefectServer]:
    """Start the server with `settings` added to its environment (e.g. PREFECT_SERVER_UI_ENABLED); stop it on exit."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_UI_API_URL": api,  # the UI, when enabled, talks to this server
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        **settings,
    }
    log_path = home / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_healthy(api, process, log_path)
            yield PrefectServer(env=env, api=api, ui=f"http://127.0.0.1:{port}", process=process)
        finally:
            stop_group(process)

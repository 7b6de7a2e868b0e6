"""End to end on a real Prefect server: deploy deployments/prefect.yaml, start a worker, run validate-window."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest

from flows.pipeline import pipeline
from karez.embedded_nats import EmbeddedNats, free_port
from tiro.retention import read_window

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

pytestmark = pytest.mark.slow


def _wait_healthy(api: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "prefect server exited"
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)  # polling a child process
    raise AssertionError("prefect server did not become healthy")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory):
    """A real `prefect server start` on a free port; the environment that points the CLI at it."""
    home = tmp_path_factory.mktemp("prefect-server-home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "TIRO_PROJECT_DIR": str(ROOT),
    }
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_healthy(env["PREFECT_API_URL"], server)
        yield env
    finally:
        _stop(server)
        log.close()


def _prefect(env: dict, *args: str, timeout: float = 120) -> str:
    result = subprocess.run([PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _deployments(api: str) -> dict[str, dict]:
    rows = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    return {row["name"]: row for row in rows}


def _wait_for_run(api: str, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
        if run["state"]["type"] in TERMINAL:
            return run
        time.sleep(1)  # polling the server for the run's state
    raise AssertionError(f"flow run {run_id} did not finish: {run['state']}")


def test_validate_window_deployment_run_on_a_worker(prefect_env, tmp_path):
    api = prefect_env["PREFECT_API_URL"]
    with EmbeddedNats() as nats_server:
        # The stream is filled by the main job (run in this process on the ephemeral API).
        start = datetime.now(UTC) - timedelta(seconds=1)
        summary = asyncio.run(pipeline(nats_url=nats_server.url, duration=6, window=3, workdir=str(tmp_path)))
        end = datetime.now(UTC) + timedelta(seconds=1)
        assert summary["windows_valid"] >= 1 and summary["windows_invalid"] == 0
        expected = asyncio.run(_read(nats_server.url, start, end))

        _prefect(prefect_env, "work-pool", "create", "tiro", "--type", "process", "--overwrite")
        output = _prefect(prefect_env, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
        deployments = _deployments(api)
        assert set(deployments) == {"validate-window", "karez-roles", "mock-server", "bootstrap-stores"}, output
        for service in ("karez-roles", "mock-server"):  # singletons
            assert deployments[service]["global_concurrency_limit"]["limit"] == 1
        assert deployments["validate-window"]["global_concurrency_limit"] is None
        schedules = deployments["validate-window"]["schedules"]
        assert [s["schedule"]["interval"] for s in schedules] == [60.0]
        for s in schedules:  # keep scheduled runs (default NATS address) out of this test's worker
            httpx.patch(
                f"{api}/deployments/{deployments['validate-window']['id']}/schedules/{s['id']}",
                json={"active": False},
                timeout=10,
            ).raise_for_status()

        worker_log = (tmp_path / "worker.log").open("w")
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "tiro"],
            env=prefect_env,
            cwd=ROOT,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output = _prefect(
                prefect_env,
                "deployment",
                "run",
                "validate-window/validate-window",
                "--param",
                f"nats_url={nats_server.url}",
                "--param",
                f"start={start.isoformat()}",
                "--param",
                f"end={end.isoformat()}",
            )
            run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", output).group(1)
            run = _wait_for_run(api, run_id)
        finally:
            _stop(worker)
            worker_log.close()
        assert run["state"]["type"] == "COMPLETED", (tmp_path / "worker.log").read_text()[-3000:]

    artifacts = httpx.post(
        f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}, timeout=10
    ).json()
    table = next(a for a in artifacts if a["key"] == "validation-window")
    rows = {row["item"]: row["value"] for row in _json(table["data"])}
    assert rows["valid"] is True
    assert rows["messages"] == expected["messages"] > 0
    assert rows["received"] == rows["expected"] == expected["points"]
    assert rows["missing"] == 0


async def _read(url: str, start: datetime, end: datetime) -> dict:
    nc = await nats.connect(url)
    try:
        window = await read_window(nc.jetstream(), start, end)
    finally:
        await nc.close()
    return {"messages": window.messages, "points": len(window.snapshot)}


def _json(data):
    import json

    return json.loads(data) if isinstance(data, str) else data

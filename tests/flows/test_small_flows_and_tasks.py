"""serve_mock as a flow, store secrets from Prefect Secret blocks, and the scenario cache keyed by file content."""

from __future__ import annotations

import asyncio
import os
import shutil

import httpx
import pytest
from prefect.blocks.system import Secret

from karez.embedded_nats import free_port
from tiro.examples import example_dir
from tiro_prefect.flows.mock import serve_mock
from tiro_prefect.tasks.scenario import compile_cached, content_key
from tiro_prefect.tasks.secrets import load_store_secrets


async def _get_when_up(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            try:
                return await client.get(url)
            except httpx.ConnectError:
                await asyncio.sleep(0.05)  # the flow starts the server in the background


async def test_serve_mock_serves_until_its_duration_ends(datahall):
    scenario, uses = datahall
    port = free_port()
    run = asyncio.create_task(serve_mock(scenario, uses, port=port, seed=3, duration=2))
    response = await asyncio.wait_for(_get_when_up(f"http://127.0.0.1:{port}/points/"), timeout=60)
    assert response.status_code == 200
    assert "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower" in response.json()
    assert await run == f"http://127.0.0.1:{port}"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/points/", timeout=2)


def test_secret_blocks_fill_unset_store_variables_only(monkeypatch):
    monkeypatch.delenv("TIRO_INFLUX_TOKEN", raising=False)
    monkeypatch.setenv("TIRO_ARANGO_PASSWORD", "from-env")
    Secret(value="token-from-block").save("tiro-influx-token", overwrite=True)
    Secret(value="password-from-block").save("tiro-arango-password", overwrite=True)
    loaded = load_store_secrets()
    assert loaded == ["TIRO_INFLUX_TOKEN"]  # names only, never values
    assert os.environ["TIRO_INFLUX_TOKEN"] == "token-from-block"
    assert os.environ["TIRO_ARANGO_PASSWORD"] == "from-env"


def test_scenario_cache_follows_file_content(tmp_path):
    folder = tmp_path / "datahall"
    shutil.copytree(example_dir("datahall"), folder)
    scenario, uses = folder / "scenario.yaml", [folder / "use-srv1.yaml", folder / "use-srv2.yaml"]
    first = compile_cached(scenario, uses)
    assert compile_cached(scenario, uses) is first
    key = content_key(scenario, uses)
    uses[1].write_text(uses[1].read_text() + "\n# edited\n")
    assert content_key(scenario, uses) != key
    assert compile_cached(scenario, uses) is not first


def test_deployment_runs_end_their_window_at_the_scheduled_time():
    from datetime import UTC, datetime, timedelta

    from tiro_prefect.flows.validation import schedule_aligned_end, scheduled_end, window_bounds

    assert scheduled_end() is None  # not a deployment run: the window ends now
    scheduled = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    end = schedule_aligned_end(scheduled, now=scheduled + timedelta(seconds=17))  # the worker picked it up late
    assert end == scheduled
    assert window_bounds(60, None, end) == (scheduled - timedelta(seconds=60), scheduled)
    assert schedule_aligned_end(scheduled, now=scheduled - timedelta(seconds=5)) == scheduled - timedelta(seconds=5)


_SERVE_MOCK_RUN = """
import asyncio, sys
from tiro_prefect.flows.mock import serve_mock
state = asyncio.run(serve_mock(sys.argv[1], sys.argv[2:-1], port=int(sys.argv[-1]), return_state=True))
print("STATE", state.type.value, flush=True)
"""


async def test_sigterm_stops_the_mock_service_and_the_run_ends_cancelled(datahall):
    """How a worker cancels a run: SIGTERM to the process running the flow, which drains and ends Cancelled."""
    import signal
    import subprocess
    import sys

    scenario, uses = datahall
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE_MOCK_RUN, scenario, *uses, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        await asyncio.wait_for(_get_when_up(f"http://127.0.0.1:{port}/points/"), timeout=120)
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(proc.communicate, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "STATE CANCELLED" in output, output[-3000:]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/points/", timeout=2)

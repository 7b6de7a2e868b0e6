"""End to end on a real Prefect server: deploy deployments/prefect.yaml, start two workers, run validate-window.

The server keeps its state in PostgreSQL, the production setup (docs/how-to/scaling-out.md), when Debian's
`postgresql` is installed (`.ci/run` installs it); on SQLite, Prefect's default for one machine, otherwise."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest
import yaml
from nats.js.errors import NotFoundError
from postgres_server import postgres_available, postgres_server
from prefect_server import PREFECT, prefect_server
from process_groups import stop_group

from karez.embedded_nats import EmbeddedNats
from tiro.retention import read_window
from tiro_prefect.flows.pipeline import pipeline

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prefect_database():
    """The Prefect server's database URL: a private PostgreSQL when installed, else None (Prefect's SQLite)."""
    if not postgres_available():
        yield None
        return
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory, prefect_database):
    """A real `prefect server start` on a free port; the environment that points the CLI at it."""
    home = tmp_path_factory.mktemp("prefect-server-home")
    database = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_database} if prefect_database else {}
    settings = {
        **database,
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "TIRO_PROJECT_DIR": str(ROOT),
        "TIRO_TELEMETRY_URL": f"sqlite:///{home}/tiro.db",  # deployment runs keep window results: not in the checkout
    }
    with prefect_server(home, **settings) as running:
        yield running.env


def _api_call(method: str, url: str, **kwargs) -> httpx.Response:
    """A Prefect API request, retried while the server answers 503 (its SQLite file is briefly locked under load)."""
    for _ in range(20):
        response = httpx.request(method, url, timeout=10, **kwargs)
        if response.status_code != 503:
            return response.raise_for_status()
        time.sleep(0.5)
    return response.raise_for_status()


@pytest.fixture(scope="module")
def deployed(prefect_env):
    """The work pool and the deployments of deployments/prefect.yaml, registered with `prefect deploy`."""
    _prefect(prefect_env, "work-pool", "create", "tiro", "--type", "process", "--overwrite")
    output = _prefect(prefect_env, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
    api = prefect_env["PREFECT_API_URL"]
    deployments = _deployments(api)
    assert set(deployments) == {"validate-window", "karez-roles", "mock-server", "bootstrap-stores"}, output
    for s in deployments["validate-window"]["schedules"]:  # scheduled runs (default NATS) stay out of these tests
        _api_call(
            "PATCH",
            f"{api}/deployments/{deployments['validate-window']['id']}/schedules/{s['id']}",
            json={"active": False},
        )
    return deployments


WORKERS = 2  # runs are spread over the workers of the pool; services stay single by their concurrency limit


@pytest.fixture(scope="module")
def worker(prefect_env, deployed, tmp_path_factory):
    """Two `prefect worker start --pool tiro` processes; yields their shared log file."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with log_path.open("w") as log:
        procs = [
            subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "tiro", "--name", f"worker-{i + 1}"],
                env=prefect_env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for i in range(WORKERS)
        ]
        try:
            yield log_path
        finally:
            for proc in procs:
                stop_group(proc)


def _run(env: dict, deployment: str, **params: str) -> str:
    args = [a for key, value in params.items() for a in ("--param", f"{key}={value}")]
    output = _prefect(env, "deployment", "run", deployment, *args)
    return re.search(r"UUID:\s*([0-9a-f-]{36})", output).group(1)


def _prefect(env: dict, *args: str, timeout: float = 120) -> str:
    result = subprocess.run([PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _deployments(api: str) -> dict[str, dict]:
    rows = _api_call("POST", f"{api}/deployments/filter", json={}).json()
    return {row["name"]: row for row in rows}


def _wait_for_run(api: str, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _api_call("GET", f"{api}/flow_runs/{run_id}").json()
        if run["state"]["type"] in TERMINAL:
            return run
        time.sleep(1)  # polling the server for the run's state
    raise AssertionError(f"flow run {run_id} did not finish: {run['state']}")


def test_validate_window_deployment_run_on_a_worker(prefect_env, deployed, worker, tmp_path):
    api = prefect_env["PREFECT_API_URL"]
    with EmbeddedNats() as nats_server:
        # The stream is filled by the main job (run in this process on the ephemeral API).
        start = datetime.now(UTC) - timedelta(seconds=1)
        summary = asyncio.run(pipeline(nats_url=nats_server.url, duration=6, window=3, workdir=str(tmp_path)))
        end = datetime.now(UTC) + timedelta(seconds=1)
        assert summary["windows_valid"] >= 1 and summary["windows_invalid"] == 0
        expected = asyncio.run(_read(nats_server.url, start, end))

        schedules = deployed["validate-window"]["schedules"]
        assert [s["schedule"]["interval"] for s in schedules] == [60.0]
        for service in ("karez-roles", "mock-server"):  # singletons
            assert deployed[service]["global_concurrency_limit"]["limit"] == 1
        assert deployed["validate-window"]["global_concurrency_limit"] is None

        run_ids = [
            _run(
                prefect_env,
                "validate-window/validate-window",
                nats_url=nats_server.url,
                start=start.isoformat(),
                end=end.isoformat(),
            )
            for _ in range(2)  # independent runs: each worker of the pool may take one
        ]
        for run_id in run_ids:
            run = _wait_for_run(api, run_id)
            assert run["state"]["type"] == "COMPLETED", worker.read_text()[-3000:]
        pool_workers = _api_call("POST", f"{api}/work_pools/tiro/workers/filter", json={}).json()
        assert {w["name"] for w in pool_workers} >= {f"worker-{i + 1}" for i in range(WORKERS)}

    artifacts = _api_call(
        "POST", f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}
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
    return json.loads(data) if isinstance(data, str) else data


PLUGINS = ROOT / "tests" / "flows" / "plugins"
COUNT = 1500


def test_cancelling_the_roles_service_drains_without_losing_messages(prefect_env, deployed, worker, tmp_path):
    api = prefect_env["PREFECT_API_URL"]
    out = tmp_path / "received.txt"
    config = tmp_path / "karez.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "converters": [{"type": "busy"}],
                "aggregators": [{"type": "append_file", "category": "numbers", "path": str(out)}],
            }
        )
    )
    with EmbeddedNats() as nats_server:
        run_id = _run(
            prefect_env,
            "karez-roles/karez-roles",
            config=json.dumps([str(config)]),
            plugin_dir=str(PLUGINS),
            workdir=str(tmp_path),
            nats_url=nats_server.url,
            durable="true",
        )
        asyncio.run(_feed_when_ready(nats_server.url, out))
        _prefect(prefect_env, "flow-run", "cancel", run_id)
        run = _wait_for_run(api, run_id)
        assert run["state"]["type"] == "CANCELLED", worker.read_text()[-3000:]
        received = [int(n) for n in out.read_text().split()]
        held = asyncio.run(_held(nats_server.url))
    assert len(set(received)) < COUNT, "cancelled too late to test the drain"
    assert held["ack_pending"] == 0  # the drain finished every message it had taken
    assert len(set(received)) + held["pending"] == COUNT  # the rest waits in JetStream: nothing lost


async def _feed_when_ready(url: str, out: Path) -> None:
    """Once the deployed roles created their stream, publish COUNT messages; return when some were processed."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        async with asyncio.timeout(180):
            while True:
                try:
                    await js.stream_info("KAREZ_CONVERTER_busy")
                    break
                except NotFoundError:
                    await asyncio.sleep(0.2)  # the worker is still starting the flow run
            for n in range(COUNT):
                await js.publish("karez.converter.busy", json.dumps({"n": n}).encode())
            while not out.exists() or len(out.read_text().split()) < 100:
                await asyncio.sleep(0.05)
    finally:
        await nc.close()


async def _held(url: str) -> dict[str, int]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    held = {"pending": 0, "ack_pending": 0}
    try:
        for stream, name in (
            ("KAREZ_CONVERTER_busy", "converter_busy"),
            ("KAREZ_CATEGORY_numbers", "aggregator_numbers"),
        ):
            info = await js.consumer_info(stream, name)
            held["pending"] += info.num_pending
            held["ack_pending"] += info.num_ack_pending
    finally:
        await nc.close()
    return held

"""docker-compose.yml's topology without Docker: every service as a local process, wired as the compose file wires it.

nats-server with JetStream, the mock server, the Karez roles (the compose file's own Karez config and plugin stub),
the Prefect server, the one-shot `prefect-deploy` and the worker start in `depends_on` order, each once the services
it waits for pass their compose health checks. InfluxDB and ArangoDB cannot run here: sqlite stores stand in for
them, through the same TIRO_TELEMETRY_URL / TIRO_GRAPH_URL settings. The test checks that data flows from the mock
into both stores and onto the validation subject, that the worker registers with the pool and runs the
bootstrap-stores flow that `prefect-deploy` starts.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import nats
import pytest
from local_stack import LocalStack, StackError

from tiro.stores.urls import open_graph_store, open_telemetry_store

pytestmark = pytest.mark.slow

SECRETS = {"TIRO_INFLUX_TOKEN": "unused-token", "TIRO_ARANGO_PASSWORD": "unused", "INFLUX_ADMIN_PASSWORD": "unused"}
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _stack(tmp_path: Path) -> LocalStack:
    return LocalStack(
        tmp_path,
        variables=SECRETS,
        stand_ins={
            "influxdb": {"TIRO_TELEMETRY_URL": f"sqlite:///{tmp_path / 'telemetry.db'}"},
            "arangodb": {"TIRO_GRAPH_URL": f"sqlite:///{tmp_path / 'graph.db'}"},
        },
        # Scheduled validate-window runs would compete for the two CPUs; the deployments and the worker are the same.
        extra_env={"prefect-server": {"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"}},
    )


def test_the_compose_services_run_and_data_flows_without_docker(tmp_path):
    with _stack(tmp_path) as stack:
        started = stack.start_all(timeout=60)
        assert set(started) | set(stack.stand_ins) == set(stack.services)

        nats_url = f"nats://127.0.0.1:{stack.port('nats', 4222)}"
        assert asyncio.run(_validation_messages(nats_url, timeout=25)) > 0, stack.log_tails()

        mock = f"http://127.0.0.1:{stack.port('mock', 8000)}"
        paths = set(httpx.get(f"{mock}/points/", timeout=10).json())
        _wait_stored(stack, paths, timeout=30)

        assert stack.wait_exit("prefect-deploy", timeout=60) == 0, stack.log_tail("prefect-deploy")
        run_id = re.search(
            r"Created flow run .*\n.*UUID:\s*([0-9a-f-]{36})", stack.log_tail("prefect-deploy", 20_000)
        ).group(1)
        api = f"http://127.0.0.1:{stack.port('prefect-server', 4200)}/api"
        run = _wait_for_run(api, run_id, timeout=60)
        assert run["state"]["type"] == "COMPLETED", stack.log_tail("worker", 5000)

        pool = _option(stack.services["worker"]["command"], "--pool")
        workers = _api("POST", f"{api}/work_pools/{pool}/workers/filter", json={}).json()
        assert workers, f"no worker registered with pool {pool!r}"
        assert run["work_pool_name"] == pool
        stack.check_running()


async def _validation_messages(url: str, timeout: float) -> int:
    """How many messages reach `karez.validation_data.>` (the retained-window subjects) within `timeout`."""
    nc = await nats.connect(url)
    try:
        sub = await nc.subscribe("karez.validation_data.>")
        try:
            await sub.next_msg(timeout=timeout)
        except nats.errors.TimeoutError:
            return 0
        return 1 + sub.pending_msgs
    finally:
        await nc.close()


def _wait_stored(stack: LocalStack, paths: set[str], timeout: float) -> None:
    """Wait until both stores hold a value for every data point the mock serves."""
    urls = {k: v for overrides in stack.stand_ins.values() for k, v in overrides.items()}
    deadline = time.monotonic() + timeout
    missing: dict[str, set[str]] = {}
    while time.monotonic() < deadline:
        missing = {
            "telemetry": paths - _latest(open_telemetry_store, urls["TIRO_TELEMETRY_URL"]),
            "graph": paths - _latest(open_graph_store, urls["TIRO_GRAPH_URL"]),
        }
        if not any(missing.values()):
            return
        time.sleep(1)  # polling the stores that the roles write
    raise StackError(f"not stored after {timeout}s: {missing}; {stack.log_tail('roles')}")


def _latest(open_store, url: str) -> set[str]:
    if not Path(url.removeprefix("sqlite://")).exists():
        return set()
    store = open_store(url)
    try:
        return set(store.latest())
    finally:
        store.close()


def _api(method: str, url: str, **kwargs) -> httpx.Response:
    """A Prefect API request, retried while the server answers 503 (its SQLite file is briefly locked under load)."""
    for _ in range(20):
        response = httpx.request(method, url, timeout=10, **kwargs)
        if response.status_code != 503:
            break
        time.sleep(0.5)
    return response.raise_for_status()


def _wait_for_run(api: str, run_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = _api("GET", f"{api}/flow_runs/{run_id}").json()
        if run["state"]["type"] in TERMINAL or time.monotonic() > deadline:
            return run
        time.sleep(1)  # polling the server for the run's state


def _option(command: list[str], option: str) -> str:
    return command[command.index(option) + 1]

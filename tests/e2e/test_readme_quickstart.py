"""The README's Prefect quickstart, followed literally, reaches stored data; its services survive the orchestrator.

One stack per module: the quickstart's own commands (parsed from the README, so that this test breaks when the docs
change) start a Prefect server, NATS, a worker and the two services. The second test then crashes the roles service
and restarts the Prefect server under the running services, and counts what was collected against what was stored.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import nats
import pytest
from nats.js.api import DeliverPolicy
from process_groups import stop_group
from readme_quickstart import (
    Terminals,
    api_call,
    end_every_run,
    flow_runs,
    free_port,
    healthy,
    listening,
    quickstart_blocks,
    run_pid,
    running_run,
    substitute,
    wait_until,
)

from karez import frames
from karez.shared_columns import SharedColumns
from tiro.retention import RETENTION_STREAM, RETENTION_SUBJECT
from tiro.stores.urls import open_telemetry_store
from tiro_models.validation.event_time import event_time

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("mock-server", "karez-roles")
QUERY = "tiro query latest"


def _base_environment(tmp: Path) -> dict[str, str]:
    """This process's environment without any Prefect/Tiro/Karez/NATS setting, plus a private home for each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TIRO_", "KAREZ_", "NATS_"))}
    env.update(
        PREFECT_HOME=str(tmp / "prefect-home"),  # where a newcomer's ~/.prefect would be
        XDG_DATA_HOME=str(tmp / "data"),  # where `karez nats` keeps its streams by default
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_WORKER_QUERY_SECONDS="2",
        PREFECT_WORKER_PREFETCH_SECONDS="2",
        PREFECT_RUNNER_POLL_FREQUENCY="2",
    )
    return env


def _wait_ready(terminals: Terminals, command: str) -> None:
    """Wait until a command that keeps running answers, as the next step of the README needs it to."""
    process = terminals.running[command]

    def alive_and(check):
        assert process.poll() is None, f"`{command}` exited:\n{terminals.log_of(command)[-3000:]}"
        return check()

    if command.startswith("prefect server start"):
        api = terminals.value("PREFECT_API_URL")
        wait_until(lambda: alive_and(lambda: healthy(api)), 120, "the Prefect server")
    elif command.startswith("karez nats"):
        port = int(terminals.value("NATS_URL").rsplit(":", 1)[1])
        wait_until(lambda: alive_and(lambda: listening(port)), 30, "NATS")
    elif command.startswith("prefect worker start"):
        wait_until(lambda: alive_and(lambda: "started!" in terminals.log_of(command)), 60, "the worker")
    else:
        raise AssertionError(f"the README has a new long-running command this test does not know: {command}")


def _run_step(terminals: Terminals, command: str, outputs: dict[str, subprocess.CompletedProcess]) -> None:
    if command.startswith(QUERY):  # "give them a few seconds": ask again until the roles stored something
        result = wait_until(
            lambda: (r := terminals.run(command)).returncode == 0 and "no data" not in r.stdout and r, 120, command, 3
        )
    else:
        result = terminals.run(command)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    outputs[command] = result


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """Every command of the quickstart run in order; what they printed, and the terminals still running."""
    tmp = tmp_path_factory.mktemp("quickstart")
    settings, *steps = quickstart_blocks()
    values = {
        "PREFECT_SERVER_API_PORT": str(free_port()),
        "NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "TIRO_MOCK_URL": f"http://127.0.0.1:{free_port()}",
        "TIRO_STORE": f"sqlite:///{tmp / 'tiro.db'}",
    }
    logs = tmp / "logs"
    logs.mkdir()
    terminals = Terminals(substitute(settings, values), _base_environment(tmp), logs)
    api = terminals.value("PREFECT_API_URL")
    outputs: dict[str, subprocess.CompletedProcess] = {}
    try:
        for step in steps:
            for command in step:
                if command.keeps_running:
                    terminals.start(command.text)
                    _wait_ready(terminals, command.text)
                else:
                    _run_step(terminals, command.text, outputs)
        yield terminals, outputs, api
    finally:
        try:
            if healthy(api):
                end_every_run(api)
        finally:
            terminals.stop_all()


def test_the_quickstart_reaches_stored_and_validated_data(quickstart):
    terminals, outputs, api = quickstart
    commands = list(outputs)
    assert commands.index(next(c for c in commands if "bootstrap-stores" in c)) < commands.index(
        next(c for c in commands if c.startswith(QUERY))
    )
    query = next(r for c, r in outputs.items() if c.startswith(QUERY))
    lines = [line for line in query.stdout.splitlines() if "ActivePower" in line]
    assert lines, query.stdout  # the latest ActivePower of the racks, as the roles stored it
    validation = next(r for c, r in outputs.items() if "validate-window" in c)
    assert "finished successfully" in validation.stdout, validation.stdout
    for service in SERVICES:
        assert running_run(api, service), f"{service} is not running"
    store = terminals.value("TIRO_STORE")
    assert Path(store.removeprefix("sqlite:///")).is_file()


def _stored_samples(store_url: str) -> set[tuple[str, float]]:
    store = open_telemetry_store(store_url)
    try:
        return {(path, _stamp(ts)) for path, samples in store.history("%%", since=0).items() for ts, _ in samples}
    finally:
        store.close()


def _restart_server(terminals: Terminals, api: str) -> None:
    command = next(c for c in terminals.running if c.startswith("prefect server start"))
    stop_group(terminals.running.pop(command))
    assert not healthy(api)
    terminals.start(command)
    _wait_ready(terminals, command)


def test_services_survive_a_crash_and_a_server_restart_without_losing_data(quickstart):
    terminals, _, api = quickstart
    store = terminals.value("TIRO_STORE")
    roles = running_run(api, "karez-roles")
    assert roles is not None

    # A crash: the service's process dies, just as it collected (so that its store path has messages in flight).
    # Its deployment trigger runs it again.
    asyncio.run(_kill_on_collection(terminals.value("NATS_URL"), run_pid(roles)))
    crashed = wait_until(
        lambda: (r := api_call("GET", f"{api}/flow_runs/{roles['id']}").json())["state"]["type"] == "CRASHED" and r,
        60,
        "the killed roles run to be marked Crashed",
    )
    again = wait_until(lambda: running_run(api, "karez-roles", {roles["id"]}), 90, "the roles service to come back")
    assert crashed["deployment_id"] == again["deployment_id"]

    # A restart of the Prefect server under the running services: they keep their leases and keep running.
    services = {service: running_run(api, service) for service in SERVICES}
    before_restart = len(_stored_samples(store))
    _restart_server(terminals, api)
    for service, run in services.items():
        state = api_call("GET", f"{api}/flow_runs/{run['id']}").json()["state"]
        assert state["type"] == "RUNNING", f"{service} did not survive the restart: {state}"
        lease = state["state_details"]["deployment_concurrency_lease_id"]
        renewal = api_call("POST", f"{api}/v2/concurrency_limits/leases/{lease}/renew", json={"lease_duration": 300})
        assert renewal.status_code == 204, renewal.text  # 410 Gone would end the run at its next renewal
    wait_until(lambda: len(_stored_samples(store)) > before_restart, 60, "data to be stored after the restart", 2)

    # Nothing lost: every sample collected (retained for validation) reaches the store; those the crash left
    # unacknowledged once JetStream delivers them again (after the consumers' ack_wait, 30 s). Then drain the roles.
    nats_url = terminals.value("NATS_URL")

    def missing() -> set[tuple[str, float]]:
        retained = asyncio.run(_retained_samples(nats_url))
        assert retained, "nothing was collected"
        return retained - _stored_samples(store)

    late = missing()
    wait_until(lambda: not missing(), 90, f"the {len(late)} collected samples not yet stored to be stored", 3)
    end_every_run(api)
    lost = missing()
    assert not lost, f"{len(lost)} collected samples were not stored, e.g. {sorted(lost)[:3]}"
    assert flow_runs(api, "karez-roles")[0]["state"]["type"] == "CANCELLED"


async def _kill_on_collection(url: str, pid: int) -> None:
    """SIGKILL the process group `pid` as soon as the roles publish their next collection for validation."""
    nc = await nats.connect(url)
    try:
        sub = await nc.subscribe(RETENTION_SUBJECT)
        await sub.next_msg(timeout=60)
        os.killpg(pid, signal.SIGKILL)
    finally:
        await nc.close()


async def _retained_samples(url: str) -> set[tuple[str, float]]:
    """Every (path, event time) the retention stream holds: what the roles collected, as the validation sees it."""
    nc = await nats.connect(url)
    samples = set()
    try:
        js = nc.jetstream()
        shared = SharedColumns(js)  # the service's frames name their paths' entry in the shared-columns bucket
        total = (await js.stream_info(RETENTION_STREAM)).state.messages
        sub = await js.subscribe(RETENTION_SUBJECT, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        for _ in range(total):
            msg = await sub.next_msg(timeout=10)
            for item in frames.expand(await shared.decode(msg.data, msg.headers)):
                samples.add((item["path"], _stamp(event_time(item["result"]))))
    finally:
        await nc.close()
    return samples


def _stamp(seconds: float | None) -> float:
    assert seconds is not None, "a collected sample without a timestamp"
    return round(seconds, 6)

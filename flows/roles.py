"""Flow `run_karez_roles`: the roles of a Karez config + plugin directory as a long-running, cancellable service."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.events import emit_event
from prefect.states import Cancelled, State

from karez.leader import LeaseOptions
from karez.nats_options import resolve_address
from tiro.settings import service_environment
from tiro_prefect.flows.termination import sigterm_sets
from tiro_prefect.tasks.retained import ensure_retention
from tiro_prefect.tasks.roles import RoleGroup, load_role_settings, start_role_group, stop_role_group
from tiro_prefect.tasks.secrets import load_store_secrets

RESTART_EVENT = "tiro.karez.role.restarted"


def report_restarts(group: RoleGroup) -> int:
    """Emit one Prefect event per role that crashed and was restarted since the last call; how many."""
    restarted = group.new_restarts()
    for row in restarted:
        emit_event(
            event=RESTART_EVENT,
            resource={
                "prefect.resource.id": f"tiro.karez.{row['kind']}.{row['name']}",
                "prefect.resource.name": row["name"],
                "tiro.karez.kind": row["kind"],
            },
            payload=row,
        )
        get_run_logger().warning(
            "Karez %s %s crashed and was restarted (%d restarts so far)", row["kind"], row["name"], row["restarts"]
        )
    return len(restarted)


async def watch_roles(
    group: RoleGroup, duration: float | None, stop: asyncio.Event | None = None, check_every: float = 1.0
) -> None:
    """Wait for `duration` seconds (forever when None) or until `stop` is set, reporting role restarts."""
    stop = stop or asyncio.Event()
    deadline = None if duration is None else time.monotonic() + duration
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        remaining = check_every if deadline is None else min(check_every, deadline - time.monotonic())
        try:
            await asyncio.wait_for(stop.wait(), timeout=max(remaining, 0))
        except TimeoutError:
            pass
        report_restarts(group)


async def drain_despite_cancellation(group: RoleGroup) -> None:
    """Drain after a cancellation from the UI; a repeated cancel must not cut the drain short (no task runs here)."""
    drain = asyncio.ensure_future(group.runtime.shutdown())
    while not drain.done():
        try:
            await asyncio.shield(drain)
        except asyncio.CancelledError:
            continue


@flow(name="karez-roles")
async def run_karez_roles(
    config: list[str],
    plugin_dir: str = "karez",
    nats_url: str | None = None,
    duration: float | None = None,
    durable: bool = False,
    kinds: list[str] | None = None,
    workdir: str | None = None,
    retention: float | None = None,
    replicas: int | None = None,
    lease: bool = False,
) -> list[dict[str, Any]] | State:
    """Run the roles until `duration` elapses or the run is cancelled, then drain them; their final counters.

    `workdir`: the folder the config's relative paths (scenario, uses, log files) are relative to; the run's
    process changes into it (each deployment run is a process of its own). `durable`: JetStream durable consumers
    for every role that does not say otherwise (a validation_data aggregator must stay on core NATS when the
    retention stream of validate_window captures `karez.validation_data.>`). `retention`: seconds of validation data
    that stream keeps, created before the roles publish so that no window misses their first samples (None: leave it
    to validate_window). A config's `@format {env[TIRO_TELEMETRY_URL]}` (`TIRO_GRAPH_URL`, `TIRO_MOCK_URL`) reads the
    value tiro.settings resolves; this process's environment is left as it is. `replicas`: copies of every
    JetStream stream created (None: 3 on a NATS cluster of three or more nodes, else 1). `lease`: dispatchers and
    one-worker roles are active in one run at a time across workers (the others stand by; karez.leader).
    """
    tiro_settings = service_environment()  # before the change into workdir: relative sqlite paths are the project's
    if workdir:
        os.chdir(workdir)
    load_store_secrets()
    settings = load_role_settings(config, tiro_settings)
    address = resolve_address(nats_url)
    if retention is not None:
        await ensure_retention(address, retention, replicas)
    terminated = asyncio.Event()
    lease_options = LeaseOptions(replicas=replicas) if lease else None
    with sigterm_sets(terminated):  # before the roles start: a cancel may come as soon as they run
        group = await start_role_group(
            settings, plugin_dir, address, durable, kinds, replicas=replicas, lease=lease_options
        )
        get_run_logger().info("Karez roles running: %s", group.role_counts())
        try:
            await watch_roles(group, duration, terminated)
        except BaseException:  # cancelled in-process (CancelledError): drain, then let Prefect record it
            await drain_despite_cancellation(group)
            raise
        if terminated.is_set():
            get_run_logger().info("Termination requested: draining the roles")
            await drain_despite_cancellation(group)
    if terminated.is_set():  # cancelled through the worker: the run ends Cancelled once nothing is in flight
        return Cancelled(message=f"Karez roles drained after a termination request: {group.stats()}")
    return await stop_role_group(group)

"""One reliability run of the datahall pipeline: fresh NATS (file store), roles, store; dispatch, fault, drain, count.

Processes: the shared recording mock server; a nats-server with JetStream on a fixed port and its own store dir;
`karez deploy` of the dispatcher alone (stopped after a fixed number of rounds, so the offered set is finite);
`karez deploy` of connector → tiro_preprocess → to_store (→ influx_line_protocol); `karez deploy` of the tiro_store
aggregator into sqlite (and influx_writer into VictoriaMetrics when the case asks). Durable mode passes `--durable`
to the role processes; core mode runs the same roles on plain NATS.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from _accounting import account, account_paths, served_since, sqlite_count, sqlite_rows
from _pipeline_probes import MemoryWatch
from _processes import KarezProcess, RecordingMock, Victoria
from _tap import Tap

from karez.embedded_nats import EmbeddedNats
from tiro.mock.server import free_port
from tiro.mock.service import build_service
from tiro_models.spec import TELEMETRY

STORE_CATEGORY = "store_data"
BATCH_SIZE = 1000
EXPECTED_ROLES = {"connector.tiro_mock", "converter.tiro_preprocess", "converter.to_store", "aggregator.tiro_store"}


@dataclass
class Setup:
    """What every case shares: the scaled scenario and the running recording mock."""

    folder: Path
    scenario: Path
    uses: list[Path]
    mock: RecordingMock
    round_points: int

    @cached_property
    def telemetry_paths(self) -> frozenset[str]:
        """The paths the mock lists whose samples go on the telemetry subjects: every series influx_writer must get."""
        # Built as the mock builds its own (same model, same seed): the expectation comes from the model, never
        # from what a store happens to hold.
        service = build_service(self.scenario, self.uses, seed=self.mock.seed)
        return frozenset(path for path in service.listed if service.points[path].category == TELEMETRY)


@dataclass
class Plan:
    """One case: mode, rounds, dispatch interval, and when and how long the fault lasts (seconds after dispatch)."""

    name: str
    durable: bool
    rounds: int
    interval: float
    fault_at: float
    fault: Callable[[Run], Awaitable[str]] | None = None
    victoria: bool = False


@dataclass
class Run:
    """The live processes of one case, handed to the fault."""

    setup: Setup
    plan: Plan
    folder: Path
    nats: EmbeddedNats
    tap: Tap
    roles: KarezProcess
    store: KarezProcess
    dispatcher: KarezProcess
    victoria: Victoria | None = None
    events: list[str] = field(default_factory=list)

    @property
    def db(self) -> Path:
        """The sqlite store file."""
        return self.folder / "tiro.db"

    def note(self, text: str) -> None:
        """Timestamped event for the case notes."""
        self.events.append(text)


def karez_config(setup: Setup, plan: Plan, vm_url: str | None) -> dict[str, Any]:
    """The configuration: dispatcher, collection chain (connector and converters), stores (aggregators)."""
    base, scenario, uses = setup.mock.url, str(setup.scenario), ",".join(map(str, setup.uses))
    to_store_next = ["to_store", *(["influx_line_protocol"] if vm_url else [])]
    roles = {
        "connectors": [
            # fuse: false keeps the connector → tiro_preprocess hop on NATS, where the tap counts what was collected;
            # tiro_preprocess and the converters after it run fused (karez.fusion); frames from the connector on
            {"type": "tiro_mock", "base_url": base, "by": "path", "batch": True, "converter": "tiro_preprocess",
             "fuse": False, "frames": True},
        ],
        "converters": [
            {"type": "tiro_preprocess", "next": to_store_next, "batch": True, "frames": True},
            {"name": "to_store", "type": "filter_and_update_meta", "key": "category",
             "rename": {"telemetry": STORE_CATEGORY, "attribute": STORE_CATEGORY}, "batch": True, "frames": True},
        ],
    }  # fmt: skip
    stores: dict[str, Any] = {
        "aggregators": [
            {"type": "tiro_store", "category": STORE_CATEGORY, "store": "sqlite:///tiro.db", "scenario": scenario,
             "uses": uses, "flush_interval": 0.5, "frames": True},
        ]
    }  # fmt: skip
    if vm_url:
        roles["converters"].append(
            {"type": "influx_line_protocol", "measurement": "tiro_telemetry", "field_name": "field",
             "field_value": "value", "batch": True, "frames": True}
        )  # fmt: skip
        stores["aggregators"].append(
            {"type": "influx_writer", "category": "telemetry", "url": vm_url, "token": "reliability", "org": "tiro",
             "bucket": "tiro", "max_retries": 3, "timeout": 10}
        )  # fmt: skip
    dispatcher = {
        "dispatchers": [
            {"type": "tiro_mock", "connector": "tiro_mock", "by": "path", "batch_size": BATCH_SIZE,
             "interval": plan.interval, "mode": "even", "base_url": base},
        ]
    }  # fmt: skip
    return {**dispatcher, **roles, **stores}


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    """Poll `predicate` until true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


async def jetstream_backlog(nc: Any) -> int:
    """Messages pending or unacked over every durable consumer (dead-letter streams aside); -1 when unreachable."""
    try:
        jsm = nc.jsm()
        total = 0
        for stream in await jsm.streams_info():
            for consumer in await jsm.consumers_info(stream.config.name):
                total += (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
        return total
    except Exception:
        return -1


async def drain(run: Run, timeout: float) -> bool:
    """Wait until the store stops growing (and, durable, JetStream holds nothing pending): everything arrived."""
    quiet_needed = 3.0 if run.plan.durable else max(6.0, run.plan.interval)
    deadline = time.monotonic() + timeout
    last, quiet_since = sqlite_count(run.db), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now_count = sqlite_count(run.db)
        if now_count != last:
            last, quiet_since = now_count, time.monotonic()
            continue
        if time.monotonic() - quiet_since < quiet_needed:
            continue
        if not run.plan.durable or await jetstream_backlog(run.tap.nc) == 0:
            return True
    return False


async def start_roles(run: Run) -> None:
    """Launch the collection chain and the stores, and wait until every role publishes its metrics."""
    run.roles.start()
    run.store.start()
    expected = EXPECTED_ROLES | ({"aggregator.influx_writer"} if run.victoria else set())
    ok = await wait_until(lambda: expected <= run.tap.roles_reporting(), 180)
    if not ok:
        raise RuntimeError(
            f"roles did not come up: {sorted(run.tap.roles_reporting())}; roles log: {run.roles.log_tail()}; "
            f"stores log: {run.store.log_tail()}"
        )


async def watch(memory: MemoryWatch, tap: Tap, backlog_peak: list[int]) -> None:
    """Sample every process's memory and the JetStream backlog once a second (until cancelled)."""
    while True:
        memory.sample()
        backlog_peak[0] = max(backlog_peak[0], await jetstream_backlog(tap.nc))
        await asyncio.sleep(1.0)


async def run_case(setup: Setup, plan: Plan, drain_timeout: float = 240) -> dict[str, Any]:
    """Run one case end to end and return its counts."""
    folder = setup.folder / plan.name
    folder.mkdir(parents=True)
    nats = EmbeddedNats(store_dir=folder / "nats", port=free_port())
    await asyncio.to_thread(nats.start)
    victoria = Victoria(free_port()).start() if plan.victoria else None
    tap = await Tap("tiro_mock", "tiro_preprocess").connect(nats.url)
    config = karez_config(setup, plan, victoria.url if victoria else None)
    kinds = {"dispatcher": ["-d"], "roles": ["-n", "-v"], "stores": ["-g"]}
    procs = {name: KarezProcess(folder, name, config, k, nats.url, plan.durable) for name, k in kinds.items()}
    run = Run(setup, plan, folder, nats, tap, procs["roles"], procs["stores"], procs["dispatcher"], victoria)
    started = time.monotonic()
    try:
        await start_roles(run)
        offset = setup.mock.served_offset()
        run.dispatcher.start()
        if not await wait_until(lambda: tap.first_task_at is not None, 120):
            raise RuntimeError(f"no task dispatched; dispatcher log: {run.dispatcher.log_tail()}")
        t0 = tap.first_task_at or time.monotonic()
        dispatch_end = t0 + (plan.rounds - 0.5) * plan.interval  # the last round's delayed tasks finish in its drain

        async def stop_dispatcher() -> None:
            await asyncio.sleep(max(0.0, dispatch_end - time.monotonic()))
            await asyncio.to_thread(run.dispatcher.terminate)

        async def inject() -> str:
            if plan.fault is None:
                return ""
            await asyncio.sleep(max(0.0, t0 + plan.fault_at - time.monotonic()))
            return await plan.fault(run)

        memory = MemoryWatch(
            {"mock": setup.mock.proc.pid, "nats_server": nats.process.pid, "karez_roles": run.roles.proc.pid,
             "karez_stores": run.store.proc.pid, "karez_dispatcher": run.dispatcher.proc.pid, "harness": os.getpid()}
        )  # fmt: skip
        backlog_peak = [0]
        monitor = asyncio.create_task(watch(memory, tap, backlog_peak))
        _, fault_note = await asyncio.gather(stop_dispatcher(), inject())
        dispatch_seconds, stored_at_dispatch_end = time.monotonic() - t0, sqlite_count(run.db)
        drained = await drain(run, timeout=drain_timeout)
        seconds = time.monotonic() - t0
        monitor.cancel()
        exit_codes = [await asyncio.to_thread(p.terminate) for p in (run.roles, run.store)]
        await asyncio.sleep(1.5)  # the last metrics publish of the drained roles
        counts = account(served_since(setup.mock.log, offset), tap, sqlite_rows(run.db))
        result: dict[str, Any] = {
            "mode": "durable" if plan.durable else "core",
            **counts,
            "dead_lettered": len(tap.dead_letters),
            "seconds": round(seconds, 1),
            "dispatch_seconds": round(dispatch_seconds, 1),
            "stored_at_dispatch_end": stored_at_dispatch_end,
            "jetstream_backlog_peak_messages": backlog_peak[0],
            "peak_rss_mb": {name: v["peak_rss_mib"] for name, v in memory.summary().items()},
            "setup_seconds": round(t0 - started, 1),
            "drained": drained,
            "exit_codes": exit_codes,
            "rounds": plan.rounds,
            "offered_points_per_s": round(setup.round_points / plan.interval),
            "dead_letters": tap.dead_letters[:10],
            "role_errors": {
                n: c["errors"] + c["dropped"] for n, c in tap.metrics.items() if c["errors"] + c["dropped"]
            },
            "events": run.events,
            "notes": fault_note,
        }
        if victoria is not None:
            vm_rows: dict[tuple[str, int], int] = {}
            for key in victoria.samples("tiro_telemetry"):
                vm_rows[key] = vm_rows.get(key, 0) + 1
            result["victoria"] = victoria_counts(setup, tap, offset, vm_rows)
        return result
    finally:
        for proc in procs.values():
            proc.kill()
        await tap.close()
        await asyncio.to_thread(nats.close)
        if victoria is not None:
            victoria.close()


def victoria_counts(setup: Setup, tap: Tap, offset: int, vm_rows: dict[tuple[str, int], int]) -> dict[str, Any]:
    """The same counts for VictoriaMetrics: millisecond keys, over the telemetry paths of the model."""
    # influx_writer reads the telemetry subjects only, and VictoriaMetrics keeps every field of a line it accepts
    # (a text field as 0), so each telemetry path is an expected series whatever its values.
    expected = setup.telemetry_paths
    ms_rows = Counter({(p, ts * 1_000_000): n for (p, ts), n in vm_rows.items()})
    counts = account_paths(served_since(setup.mock.log, offset), tap, ms_rows, expected, resolution_ns=1_000_000)
    return {**counts, "series_paths": len(expected), "series_paths_stored": len({p for p, _ in vm_rows})}

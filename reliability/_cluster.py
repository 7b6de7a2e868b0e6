"""The cluster cases (issue 18): the datahall pipeline on a three-node JetStream cluster, durable, with node faults.

Processes: the shared recording mock; three nats-server nodes (tests/nats_cluster.py, loopback routes, a store dir
each); two `karez deploy -d --lease` dispatcher processes (one active, one standby) and the collection and store
processes, each listing every node but trying its own home node first (`KAREZ_NATS_NO_RANDOMIZE`), so the roles sit
on different nodes: collection on n1, stores on n2, the dispatchers on n3 and n1. Streams get three replicas (detected
from the cluster). The accounting is the single-server cases' (`_accounting.account`); the cluster cases add the
store's rate before and after the fault, the dispatch gap around a dispatcher takeover, and paths dispatched twice
within half an interval (a round dispatched by two instances).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from _accounting import account, served_since, sqlite_count, sqlite_rows
from _pipeline import EXPECTED_ROLES, Plan, Setup, drain, jetstream_backlog, karez_config, wait_until
from _processes import KarezProcess
from _tap import Tap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from nats_cluster import NatsCluster

from karez.leader import DEFAULT_LEASE_TTL, LEASE_BUCKET, lease_key

LEADER_DOWN_S = 10.0  # how long the killed stream leader stays down before its restart
ROLLING_PAUSE_S = 2.0  # a restarted node's time to catch up is waited for; this is the pause between nodes on top
LEASE_TTL = DEFAULT_LEASE_TTL  # what `karez deploy --lease` uses unless told otherwise


@dataclass
class ClusterRun:
    """The live processes of a cluster case, handed to the fault."""

    setup: Setup
    plan: Plan
    folder: Path
    cluster: NatsCluster
    tap: Tap
    roles: KarezProcess
    store: KarezProcess
    dispatchers: list[KarezProcess]
    events: list[str] = field(default_factory=list)
    rates: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, stored rows) once a second
    fault_began: float | None = None
    fault_ended: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        """The sqlite store file."""
        return self.folder / "tiro.db"

    def note(self, text: str) -> None:
        """An event for the case notes, with seconds since the first task."""
        t0 = self.tap.first_task_at or time.monotonic()
        self.events.append(f"+{time.monotonic() - t0:.1f}s {text}")


def home_first(cluster: NatsCluster, home: int) -> str:
    """Every node's URL, the home node first (the process connects there unless it is down)."""
    urls = cluster.urls
    return ",".join(urls[home:] + urls[:home])


async def busiest_stream(run: ClusterRun) -> tuple[str, str]:
    """(stream, leader node) of the Karez stream that has stored the most messages so far."""
    jsm = run.tap.nc.jsm()
    best: tuple[int, str, str] = (-1, "", "")
    for info in await jsm.streams_info():
        name = info.config.name
        if name.startswith("KAREZ_") and name != "KAREZ_DLQ" and info.cluster is not None and info.cluster.leader:
            best = max(best, (info.state.last_seq, name, info.cluster.leader))
    if best[0] < 0:
        raise RuntimeError("no Karez stream with a leader")
    return best[1], best[2]


async def stream_leaders(run: ClusterRun) -> dict[str, str]:
    """Leader node of each stream (the lease buckets included)."""
    return await stream_leaders_of(run.tap.nc)


async def kill_stream_leader(run: ClusterRun) -> str:
    """SIGKILL the node leading the busiest stream, restart it 10 s later (same ports and store)."""
    stream, leader = await busiest_stream(run)
    node = run.cluster.node(leader)
    run.fault_began = time.monotonic()
    await asyncio.to_thread(node.kill)
    run.note(f"SIGKILL {leader}, leader of {stream}")
    await asyncio.sleep(LEADER_DOWN_S)
    await asyncio.to_thread(run.cluster.restart, node)
    run.fault_ended = time.monotonic()
    run.note(f"{leader} restarted and healthy")
    new_leader = (await stream_leaders(run)).get(stream)
    run.extra["killed_node"], run.extra["busiest_stream"], run.extra["stream_new_leader"] = leader, stream, new_leader
    return f"SIGKILL of {leader} (leader of {stream}), restarted {time.monotonic() - run.fault_began:.1f} s later"


async def kill_follower(run: ClusterRun) -> str:
    """SIGKILL a node that leads none of the busy streams (nor the meta group when avoidable); never restarted."""
    stream, leader = await busiest_stream(run)
    leaders = await stream_leaders(run)
    meta = run.cluster.meta_leader()
    counts = {node.name: sum(1 for v in leaders.values() if v == node.name) for node in run.cluster.nodes}
    candidates = [n for n in run.cluster.nodes if n.name != leader]
    victim = min(candidates, key=lambda n: (counts[n.name], n.name == meta))
    run.fault_began = run.fault_ended = time.monotonic()
    await asyncio.to_thread(victim.kill)
    run.note(f"SIGKILL {victim.name} (leads {counts[victim.name]} streams; {stream} is led by {leader})")
    run.extra["killed_node"] = victim.name
    return f"SIGKILL of {victim.name}, not the leader of {stream}; never restarted"


async def kill_active_dispatcher(run: ClusterRun) -> str:
    """SIGKILL the dispatcher process that holds the lease; the standby must take over."""
    holder = await lease_holder_pid(run)
    active = next((p for p in run.dispatchers if p.proc is not None and p.proc.pid == holder), None)
    if active is None:
        raise RuntimeError(f"no dispatcher process holds the lease (holder pid {holder})")
    run.fault_began = time.monotonic()
    await asyncio.to_thread(active.kill)
    run.note(f"SIGKILL of the active dispatcher ({active.name}, pid {holder})")
    before = len(run.tap.task_times)
    standby = next(p for p in run.dispatchers if p is not active)
    took_over = await wait_until_async(lambda: lease_holder_is(run, standby), 60)
    run.fault_ended = time.monotonic()
    if took_over:
        run.note(f"lease taken by {standby.name}")
    else:  # what the standby was doing, for whoever reads the report
        alive = standby.proc is not None and standby.proc.poll() is None
        run.note(f"the standby did not take the lease within 60 s ({'running' if alive else 'exited'}); its log:")
        for line in standby.log_tail(20):
            run.note(line)
    await wait_until(lambda: len(run.tap.task_times) > before, 60, step=0.05)
    after = [t for t in run.tap.task_times[before:] if t > run.fault_began]
    gap = after[0] - run.fault_began if after else None
    run.extra.update(
        {
            "lease_ttl_s": LEASE_TTL,
            "takeover_seconds": round(run.fault_ended - run.fault_began, 2) if took_over else None,
            "dispatch_gap_seconds": round(gap, 2) if gap is not None else None,
        }
    )
    return (
        f"SIGKILL of the active dispatcher; standby {standby.name} took the lease; first task {gap or -1:.1f} s later"
    )


async def rolling_restart(run: ClusterRun) -> str:
    """Restart n1, n2, n3 one at a time (SIGTERM, start, wait until healthy and routed) while data flows."""
    run.fault_began = time.monotonic()
    took = []
    for node in run.cluster.nodes:
        began = time.monotonic()
        await asyncio.to_thread(node.stop)
        await asyncio.to_thread(run.cluster.restart, node)
        took.append(round(time.monotonic() - began, 1))
        run.note(f"{node.name} restarted in {took[-1]} s")
        await asyncio.sleep(ROLLING_PAUSE_S)
    run.fault_ended = time.monotonic()
    run.extra["node_restart_seconds"] = took
    return f"rolling restart of n1, n2, n3 (SIGTERM, start, healthy: {took} s) with {ROLLING_PAUSE_S:.0f} s between"


async def lease_holder_pid(run: ClusterRun) -> int | None:
    """The pid in the dispatcher lease's holder id, or None while nobody holds it."""
    try:
        kv = await run.tap.nc.jetstream().key_value(LEASE_BUCKET)
        entry = await kv.get(lease_key("dispatcher", "tiro_mock"))
    except Exception:
        return None
    holder = orjson.loads(entry.value).get("holder", "") if entry.value else ""
    return int(holder.split(":")[1]) if holder.count(":") >= 2 else None


async def lease_holder_is(run: ClusterRun, proc: KarezProcess) -> bool:
    """The lease names `proc`."""
    return proc.proc is not None and await lease_holder_pid(run) == proc.proc.pid


async def wait_until_async(predicate: Any, timeout: float, step: float = 0.1) -> bool:
    """Poll an async predicate until true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return bool(await predicate())


async def sample_rates(run: ClusterRun) -> None:
    """Record the store's row count once a second (until cancelled)."""
    while True:
        run.rates.append((time.monotonic(), sqlite_count(run.db)))
        await asyncio.sleep(1.0)


def rate_between(rates: list[tuple[float, int]], start: float, end: float) -> float | None:
    """Stored rows per second between two moments (None without two samples in between)."""
    inside = [(t, n) for t, n in rates if start <= t <= end and n >= 0]
    if len(inside) < 2 or inside[-1][0] - inside[0][0] < 2:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def start_processes(run_folder: Path, setup: Setup, plan: Plan, cluster: NatsCluster) -> dict[str, KarezProcess]:
    """The role processes, each with its home node; two leased dispatchers."""
    config = karez_config(setup, plan, None)
    in_order = {"KAREZ_NATS_NO_RANDOMIZE": "1"}
    lease = ["--lease", "--lease-ttl", str(LEASE_TTL)]
    specs = {  # name: (kinds, home node index, extra options)
        "roles": (["-n", "-v"], 0, []),
        "stores": (["-g"], 1, []),
        "dispatcher_a": (["-d"], 2, lease),
        "dispatcher_b": (["-d"], 0, lease),
    }
    return {
        name: KarezProcess(run_folder, name, config, kinds, home_first(cluster, home), True, extra, in_order)
        for name, (kinds, home, extra) in specs.items()
    }


async def run_cluster_case(setup: Setup, plan: Plan, drain_timeout: float = 300) -> dict[str, Any]:
    """Run one cluster case end to end and return its counts and cluster figures."""
    folder = setup.folder / plan.name
    folder.mkdir(parents=True)
    cluster = NatsCluster(folder / "cluster")
    await asyncio.to_thread(cluster.start)
    tap = await Tap("tiro_mock", "tiro_preprocess").connect(cluster.urls)
    tap.repeat_window = plan.interval / 2
    procs = start_processes(folder, setup, plan, cluster)
    run = ClusterRun(setup, plan, folder, cluster, tap, procs["roles"], procs["stores"],
                     [procs["dispatcher_a"], procs["dispatcher_b"]])  # fmt: skip
    started = time.monotonic()
    sampler: asyncio.Task[Any] | None = None
    try:
        run.roles.start()
        run.store.start()
        if not await wait_until(lambda: tap.roles_reporting() >= EXPECTED_ROLES, 180):
            raise RuntimeError(f"roles did not come up: {sorted(tap.roles_reporting())}; {run.roles.log_tail()}")
        offset = setup.mock.served_offset()
        for proc in run.dispatchers:
            proc.start()
        if not await wait_until(lambda: tap.first_task_at is not None, 120):
            raise RuntimeError(f"no task dispatched; dispatcher log: {run.dispatchers[0].log_tail()}")
        t0 = tap.first_task_at or time.monotonic()
        dispatch_end = t0 + (plan.rounds - 0.5) * plan.interval
        sampler = asyncio.create_task(sample_rates(run))
        backlog_peak = [0]

        async def watch_backlog() -> None:
            while True:
                backlog_peak[0] = max(backlog_peak[0], await jetstream_backlog(tap.nc))
                await asyncio.sleep(1.0)

        watcher = asyncio.create_task(watch_backlog())

        async def stop_dispatchers() -> None:
            await asyncio.sleep(max(0.0, dispatch_end - time.monotonic()))
            for proc in run.dispatchers:
                await asyncio.to_thread(proc.terminate)

        async def inject() -> str:
            if plan.fault is None:
                return ""
            await asyncio.sleep(max(0.0, t0 + plan.fault_at - time.monotonic()))
            return await plan.fault(run)  # type: ignore[arg-type]  # a cluster fault takes a ClusterRun

        _, fault_note = await asyncio.gather(stop_dispatchers(), inject())
        dispatch_seconds, stored_at_dispatch_end = time.monotonic() - t0, sqlite_count(run.db)
        drained = await drain(run, timeout=drain_timeout)  # type: ignore[arg-type]  # the same fields are read
        seconds = time.monotonic() - t0
        watcher.cancel()
        sampler.cancel()
        exit_codes = [await asyncio.to_thread(p.terminate) for p in (run.roles, run.store)]
        counts = account(served_since(setup.mock.log, offset), tap, sqlite_rows(run.db))
        result: dict[str, Any] = {
            "mode": "durable",
            "cluster": f"{len(cluster.nodes)} nodes, streams R3",
            **counts,
            "dead_lettered": len(tap.dead_letters),
            "seconds": round(seconds, 1),
            "dispatch_seconds": round(dispatch_seconds, 1),
            "stored_at_dispatch_end": stored_at_dispatch_end,
            "jetstream_backlog_peak_messages": backlog_peak[0],
            "peak_rss_mb": {},  # not sampled here: node and dispatcher processes come and go
            "setup_seconds": round(t0 - started, 1),
            "drained": drained,
            "exit_codes": exit_codes,
            "rounds": plan.rounds,
            "offered_points_per_s": round(setup.round_points / plan.interval),
            "paths_dispatched_twice_within_half_interval": tap.early_repeats,
            "max_dispatch_gap_seconds": round(max_gap(tap.task_times, dispatch_end), 2),
            **rate_figures(run, t0, dispatch_end),
            **run.extra,
            "dead_letters": tap.dead_letters[:10],
            "role_errors": {
                n: c["errors"] + c["dropped"] for n, c in tap.metrics.items() if c["errors"] + c["dropped"]
            },
            "events": run.events,
            "notes": fault_note,
        }
        return result
    finally:
        if sampler is not None:
            sampler.cancel()
        for proc in procs.values():
            proc.kill()
        await tap.close()
        await asyncio.to_thread(cluster.close)


def max_gap(times: list[float], until: float) -> float:
    """The longest pause between two task messages before `until` (the dispatch's end)."""
    inside = [t for t in times if t <= until]
    return max((b - a for a, b in itertools.pairwise(inside)), default=0.0)


def rate_figures(run: ClusterRun, t0: float, dispatch_end: float) -> dict[str, Any]:
    """Store rates (rows/s): before the fault, during it, and after it until the dispatch ended."""
    if run.fault_began is None:
        return {"stored_per_s": _round(rate_between(run.rates, t0 + 3, dispatch_end))}
    ended = run.fault_ended or run.fault_began
    return {
        "stored_per_s_before_fault": _round(rate_between(run.rates, t0 + 3, run.fault_began)),
        "stored_per_s_during_fault": _round(rate_between(run.rates, run.fault_began, ended)),
        "stored_per_s_after_fault": _round(rate_between(run.rates, ended + 2, dispatch_end)),
    }


def _round(value: float | None) -> int | None:
    return round(value) if value is not None else None


CLUSTER_CASES: dict[str, tuple[Any, float]] = {  # name: (fault, seconds the fault lasts)
    "f_cluster_kill_stream_leader": (kill_stream_leader, LEADER_DOWN_S + 5),
    "g_cluster_kill_follower": (kill_follower, 15.0),  # after it: the time to see the rate recover
    "h_cluster_kill_dispatcher": (kill_active_dispatcher, 10.0),
    "i_cluster_rolling_restart": (rolling_restart, 3 * (ROLLING_PAUSE_S + 6)),
}

VALIDATION_WINDOW_S = 5.0
VALIDATION_WINDOWS = 12
VALIDATION_KILL_AFTER_WINDOWS = 4  # the retention stream's leader is killed during the fifth window
VALIDATION_PATHS = 200
VALIDATION_EVERY_S = 0.2


async def run_validation_case(setup: Setup, folder: Path) -> dict[str, Any]:
    """The validate-window flow for consecutive windows while samples flow into the R3 retention stream and the
    stream's leader node is killed (never restarted): every window must still be produced and hold what was sent."""
    import orjson

    from tiro.retention import RETENTION_STREAM, ensure_retention_stream

    folder.mkdir(parents=True)
    cluster = NatsCluster(folder / "cluster")
    await asyncio.to_thread(cluster.start)
    tap = await Tap("tiro_mock", "tiro_preprocess").connect(cluster.urls)
    js = tap.nc.jetstream()
    await ensure_retention_stream(js, 600, replicas=3)
    paths = sorted(setup.telemetry_paths)[:VALIDATION_PATHS]
    first = (int(time.time() / VALIDATION_WINDOW_S) + 2) * VALIDATION_WINDOW_S  # aligned, after the flow's start-up
    sent: dict[int, int] = {}
    unstored = 0
    events: list[str] = []

    async def publish() -> None:
        nonlocal unstored
        seq = 0
        while True:
            now = time.time()
            stamp = datetime_iso(now)
            batch = [{"path": p, "result": {"value": 1.0, "timestamp": stamp}} for p in paths]
            seq += 1
            for _ in range(100):  # while the stream elects a new leader, writes are refused: retry, deduplicated
                try:
                    await js.publish("karez.validation_data.reliability", orjson.dumps(batch), timeout=2,
                                     headers={"Nats-Msg-Id": f"v:{seq}"})  # fmt: skip
                    break
                except Exception:
                    await asyncio.sleep(0.2)
            else:
                unstored += len(batch)
                continue
            window = int((now - first) // VALIDATION_WINDOW_S)
            sent[window] = sent.get(window, 0) + len(batch)
            await asyncio.sleep(VALIDATION_EVERY_S)

    async def kill_leader() -> None:
        await asyncio.sleep(max(0.0, first + (VALIDATION_KILL_AFTER_WINDOWS + 0.5) * VALIDATION_WINDOW_S - time.time()))
        leader = (await stream_leaders_of(tap.nc)).get(RETENTION_STREAM)
        if leader:
            await asyncio.to_thread(cluster.node(leader).kill)
            events.append(
                f"SIGKILL {leader}, leader of {RETENTION_STREAM}, during window {VALIDATION_KILL_AFTER_WINDOWS}"
            )

    publisher = asyncio.create_task(publish())
    killer = asyncio.create_task(kill_leader())
    uses = [arg for u in setup.uses for arg in ("--uses", str(u))]
    began = time.monotonic()
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve().parent / "_validation_windows.py"), "--nats", cluster.url,
            "--scenario", str(setup.scenario), *uses, "--first", str(first), "--window", str(VALIDATION_WINDOW_S),
            "--count", str(VALIDATION_WINDOWS), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(child.communicate(), timeout=VALIDATION_WINDOWS * VALIDATION_WINDOW_S + 300)
        windows = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    finally:
        publisher.cancel()
        killer.cancel()
        await asyncio.gather(publisher, killer, return_exceptions=True)
        await tap.close()
        await asyncio.to_thread(cluster.close)
    for w in windows:
        w["sent"] = sent.get(w["window"], 0)
    produced = [w for w in windows if "error" not in w]
    return {
        "case": "j_cluster_validation_windows",
        "windows_expected": VALIDATION_WINDOWS,
        "windows_produced": len(produced),
        "windows_failed": [w for w in windows if "error" in w],
        "windows_empty": sum(1 for w in produced if w["empty"]),
        "samples_sent": sum(w["sent"] for w in windows),
        "samples_not_stored": unstored,  # publishes refused until the retry budget ran out
        "note": "items: what each run read, which includes the allowed lateness (1 s) after the window's end",
        "window_seconds": VALIDATION_WINDOW_S,
        "windows": windows,
        "events": events,
        "seconds": round(time.monotonic() - began, 1),
        "stderr_tail": err.decode(errors="replace").splitlines()[-5:] if len(produced) < VALIDATION_WINDOWS else [],
    }


def datetime_iso(epoch: float) -> str:
    """An ISO 8601 UTC timestamp, as the mock writes them."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def stream_leaders_of(nc: Any) -> dict[str, str]:
    """Leader node of each stream."""
    return {
        info.config.name: info.cluster.leader
        for info in await nc.jsm().streams_info()
        if info.cluster is not None and info.cluster.leader
    }

"""Reliability run (issue 7): fault injection in durable and core mode, load at twice the sustained rate, fuzz.

Every fault case runs the datahall pipeline with real processes (recording mock server, nats-server with a file
store, `karez deploy` role processes, sqlite store, VictoriaMetrics for the store-outage case), dispatches a fixed
number of rounds of a scaled scenario, injects the fault mid-stream, drains, and counts samples by (path,
timestamp): sent, stored, lost, duplicated, dead-lettered. Writes `reliability-report.json` and prints a table.

    .venv/bin/python reliability/run.py [--points 100000] [--quick] [--cases a,b,...] [--out reliability-report.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "bench"))

import _faults  # noqa: E402
from _cluster import CLUSTER_CASES, run_cluster_case, run_validation_case  # noqa: E402
from _datahall import scaled_datahall  # noqa: E402
from _fuzz import run_fuzz  # noqa: E402
from _pipeline import Plan, Setup, run_case  # noqa: E402
from _processes import RecordingMock, Victoria  # noqa: E402

from tiro.mock.server import free_port  # noqa: E402

SUSTAINED_POINTS_PER_S = 5_200  # README Performance table: end to end, batch + durable, sustained
BENCH_PIPELINE = {  # docs/explanation/performance.md, measured with bench/pipeline.py on this machine, one nats-server
    "spread_5_processes_sustained_points_per_s": 20_801,
    "one_process_sustained_points_per_s": SUSTAINED_POINTS_PER_S,
}
CAPACITY_RATE = 31_200  # offered in the capacity runs: above what bench/pipeline.py sustains on one server
ROUNDS = 4
POINTS_PER_RACK = 52  # the datahall scenario with 49 servers per rack: 104,003 points for 2,000 racks
SERVERS_PER_RACK = 49
MIN_DISPATCH_S = 12.0  # small runs (--quick) still dispatch long enough for a fault to land mid-stream
CASES: dict[str, tuple[Any, float, bool]] = {  # name: (fault, outage seconds, needs VictoriaMetrics)
    "a_kill_roles": (_faults.kill_roles, 0.0, False),
    "b_restart_nats": (_faults.restart_nats, 0.0, False),
    "c_store_down": (_faults.stop_store_both, _faults.STORE_OUTAGE_S, True),
    "d_poison": (_faults.inject_poison, 0.0, False),
    "e_mock_down": (_faults.stop_mock, _faults.MOCK_OUTAGE_S + 5, False),  # + the mock's start-up
}
VALIDATION_CASE = "j_cluster_validation_windows"
CLUSTER_FIGURES = (
    "killed_node", "takeover_seconds", "dispatch_gap_seconds", "paths_dispatched_twice_within_half_interval",
    "stored_per_s_before_fault", "stored_per_s_during_fault", "stored_per_s_after_fault", "node_restart_seconds",
)  # fmt: skip
ALL_CASES = [*CASES, *CLUSTER_CASES, VALIDATION_CASE]  # the cluster cases run in durable mode only


def plan_case(
    name: str, durable: bool, points: int, round_points: int, rate: float, min_dispatch: float = MIN_DISPATCH_S
) -> Plan:
    """Rounds covering `points`; the fault at 30% of the dispatch, which lasts past the outage by as much again."""
    fault, outage, victoria = CASES[name] if name in CASES else (*CLUSTER_CASES[name], False)
    rounds = max(2, math.ceil(points / round_points))
    if name in CLUSTER_CASES:  # a lost node or dispatcher delays rounds: two more keep the points sent above `points`
        rounds += 2
    base = max(rounds * round_points / rate, min_dispatch)
    fault_at = max(3.0, 0.3 * base)
    duration = max(base, fault_at + outage + 0.3 * base)
    interval = duration / rounds
    if name == "e_mock_down":  # the rounds the outage skips come on top, so the mock still serves `points`
        rounds += math.ceil(outage / interval) + 1
    victoria = victoria and Victoria.available()
    if name == "c_store_down" and not victoria:
        fault = _faults.lock_sqlite
    return Plan(name, durable, rounds, interval, fault_at, fault, victoria)


def plan_load(durable: bool, round_points: int, rate: float, seconds: float) -> Plan:
    """No fault: rounds at `rate` for `seconds`."""
    interval = round_points / rate
    return Plan("load", durable, max(2, round(seconds / interval)), interval, 0.0)


def load_summary(result: dict[str, Any], rate: float) -> dict[str, Any]:
    """The load figures: offered and achieved rates, peak RSS per process, backlog, what was lost after draining."""
    return {
        "mode": result["mode"],
        "offered_rate": round(rate),
        "achieved": round(result["stored_at_dispatch_end"] / max(result["dispatch_seconds"], 1e-9)),
        "dispatch_seconds": result["dispatch_seconds"],
        "drain_seconds": round(result["seconds"] - result["dispatch_seconds"], 1),
        "peak_rss_mb": result["peak_rss_mb"],
        "jetstream_backlog_peak_messages": result["jetstream_backlog_peak_messages"],
        "points_sent": result["points_sent"],
        "stored": result["stored"],
        "lost": result["lost"],
        "duplicated": result["duplicated"],
        "drained": result["drained"],
    }


def print_table(report: dict[str, Any]) -> None:
    """A short human-readable table on stderr."""
    columns = ("sent", 8), ("stored", 8), ("lost", 7), ("dup", 5), ("dlq", 4), ("dispatched-not-stored", 21), ("s", 6)
    print(f"{'case':16} {'mode':8} " + " ".join(f"{name:>{width}}" for name, width in columns), file=sys.stderr)
    for c in report["cases"]:
        print(
            f"{c['case']:16} {c['mode']:8} {c['points_sent']:>8} {c['stored']:>8} {c['lost']:>7} {c['duplicated']:>5} "
            f"{c['dead_lettered']:>4} {c.get('dispatched_not_stored', -1):>21} {c['seconds']:>6}",
            file=sys.stderr,
        )
        if "victoria" in c:
            v = c["victoria"]
            print(
                f"{'  victoria':16} {c['mode']:8} {v['points_sent']:>8} {v['stored']:>8} {v['lost']:>7} "
                f"{v['duplicated']:>5} {'':>4} {v['dispatched_not_stored']:>21}",
                file=sys.stderr,
            )
    if "load" in report:
        ld = report["load"]
        print(
            f"load: offered {ld['offered_rate']}/s, achieved {ld['achieved']}/s, lost {ld['lost']}, "
            f"peak RSS MB {ld['peak_rss_mb']}, backlog peak {ld['jetstream_backlog_peak_messages']} messages",
            file=sys.stderr,
        )
    for c in report["cases"]:
        figures = {k: c[k] for k in CLUSTER_FIGURES if c.get(k) is not None}
        if figures:
            print(f"  {c['case']}: {json.dumps(figures)}", file=sys.stderr)
    if "cluster_load" in report:
        single, clustered = report.get("load", {}), report["cluster_load"]
        print(
            f"cluster load: offered {clustered['offered_rate']}/s, achieved {clustered['achieved']}/s on 3 nodes "
            f"(R3) against {single.get('achieved')}/s on one server, lost {clustered['lost']}",
            file=sys.stderr,
        )
    if "capacity" in report:
        cap = report["capacity"]
        print(
            f"capacity at {cap['offered_rate']}/s offered: one server stores {cap['single_server']['achieved']}/s, "
            f"the 3-node cluster {cap['cluster']['achieved']}/s (bench/pipeline.py, one server, 5 processes: "
            f"{cap['bench_pipeline_single_server']['spread_5_processes_sustained_points_per_s']}/s)",
            file=sys.stderr,
        )
    if "validation_across_node_loss" in report:
        v = report["validation_across_node_loss"]
        print(
            f"validation across a node loss: {v.get('windows_produced')}/{v.get('windows_expected')} windows, "
            f"{v.get('windows_empty')} empty, {v.get('samples_not_stored')} samples not stored {v.get('error', '')}",
            file=sys.stderr,
        )
    if "fuzz" in report:
        fz = report["fuzz"]
        print(f"fuzz: {fz['cases']} cases, {fz['failures']} failures ({fz['tests']} tests)", file=sys.stderr)


async def run_all(args: argparse.Namespace, folder: Path, report: dict[str, Any]) -> None:
    """Every selected case in both modes, then the load run, sharing one recording mock server."""
    racks = max(1, round(args.points / ROUNDS / POINTS_PER_RACK))
    scenario, uses = scaled_datahall(folder / "scenario", racks, SERVERS_PER_RACK)
    mock = RecordingMock(scenario, uses, free_port(), folder / "served.jsonl")
    await asyncio.to_thread(mock.start)
    try:
        import httpx

        round_points = len(httpx.get(f"{mock.url}/points/", timeout=60).json())
        setup = Setup(folder, scenario, uses, mock, round_points)
        report["round_points"] = round_points
        for name in args.cases:
            if name == VALIDATION_CASE:
                print(f"[reliability] {name}: validate-window flow runs across a node loss", file=sys.stderr)
                try:
                    report["validation_across_node_loss"] = await run_validation_case(setup, folder / name)
                except Exception as e:
                    report["validation_across_node_loss"] = {"case": name, "error": f"{type(e).__name__}: {e}"}
                continue
            modes = args.modes.split(",") if name in CASES else ["durable"]
            for durable in [m == "durable" for m in modes]:
                plan = plan_case(name, durable, args.points, round_points, args.rate, args.min_dispatch)
                plan.name = f"{name}-{'durable' if durable else 'core'}"
                print(f"[reliability] {plan.name}: {plan.rounds} rounds every {plan.interval:.1f} s", file=sys.stderr)
                try:
                    result = await (run_case(setup, plan) if name in CASES else run_cluster_case(setup, plan))
                except Exception as e:  # one broken case must not hide the others' figures
                    result = {"mode": "durable" if durable else "core", "error": f"{type(e).__name__}: {e}"}
                    for key in ("points_sent", "stored", "lost", "duplicated", "dead_lettered", "served_not_stored"):
                        result[key] = -1
                    result["seconds"] = 0
                report["cases"].append({"case": name, **result})
                brief = {k: result.get(k) for k in ("points_sent", "stored", "lost", "duplicated", "dead_lettered")}
                print(f"[reliability] {json.dumps(brief)}", file=sys.stderr)
        if not args.skip_load:
            load_rate = args.load_rate or 2 * SUSTAINED_POINTS_PER_S
            seconds = args.load_seconds if not args.quick else max(5.0, args.points / load_rate)
            plan = plan_load(True, round_points, load_rate, seconds)
            print(f"[reliability] load: {load_rate}/s for {seconds:.0f} s", file=sys.stderr)
            result = await run_case(setup, plan, drain_timeout=600)
            report["load"] = {**load_summary(result, round_points / plan.interval), "detail": result}
            if not args.skip_cluster_load:  # the same load on the 3-node cluster: the cost of replication
                plan.name = "load-cluster"
                print(f"[reliability] load on the cluster: {load_rate}/s for {seconds:.0f} s", file=sys.stderr)
                result = await run_cluster_case(setup, plan, drain_timeout=600)
                report["cluster_load"] = {**load_summary(result, round_points / plan.interval), "detail": result}
                report["capacity"] = await capacity(setup, args, round_points)
    finally:
        await asyncio.to_thread(mock.stop)


async def capacity(setup: Setup, args: argparse.Namespace, round_points: int) -> dict[str, Any]:
    """One server against the 3-node cluster, offered more than either sustains: what each stores per second."""
    rate = args.capacity_rate
    seconds = 30.0 if not args.quick else 10.0
    figures: dict[str, Any] = {"offered_rate": round(rate), "seconds": seconds}
    for name, runner in (("single_server", run_case), ("cluster", run_cluster_case)):
        plan = plan_load(True, round_points, rate, seconds)
        plan.name = f"capacity-{name}"
        print(
            f"[reliability] capacity, {name.replace('_', ' ')}: offered {rate:.0f}/s for {seconds:.0f} s",
            file=sys.stderr,
        )
        result = await runner(setup, plan, drain_timeout=600)
        summary = load_summary(result, round_points / plan.interval)
        figures[name] = {k: summary[k] for k in ("achieved", "lost", "duplicated", "drain_seconds", "points_sent")}
    figures["bench_pipeline_single_server"] = BENCH_PIPELINE
    return figures


def parse_args() -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="data points per fault case (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 points per case, a short load run")
    parser.add_argument(
        "--cases", default=",".join(ALL_CASES), help=f"comma-separated subset of {', '.join(ALL_CASES)}"
    )
    parser.add_argument("--rate", type=float, default=4000, help="offered points/s of the fault cases (default 4000)")
    parser.add_argument("--min-dispatch", type=float, default=MIN_DISPATCH_S, help="shortest dispatch, s")
    parser.add_argument("--load-rate", type=float, default=0, help=f"default 2 × {SUSTAINED_POINTS_PER_S} (README)")
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-cluster-load", action="store_true", help="no load or capacity run on the cluster")
    parser.add_argument("--capacity-rate", type=float, default=CAPACITY_RATE, help="offered points/s, capacity runs")
    parser.add_argument("--skip-fuzz", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("reliability-report.json"))
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it (logs, stores) for inspection")
    parser.add_argument("--modes", default="durable,core", help="durable, core or both (default both)")
    args = parser.parse_args()
    if args.quick:
        args.points = 10_000
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in ALL_CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(ALL_CASES)}")
    return args


def main() -> None:
    """Run, write the report, print the table."""
    args = parse_args()
    began = time.monotonic()
    report: dict[str, Any] = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "points_per_case": args.points,
        "cases": [],
        "notes": {
            "points_sent": "samples the connector published into the pipeline "
            "(per Nats-Msg-Id, the copy JetStream kept)",
            "lost": "sent but in no store after draining; durable mode promises 0",
            "duplicated": "per path, stored samples beyond the tasks that asked for it, plus repeated store rows",
            "served_not_stored": "every sample the mock answered that no store has: includes answers that never "
            "entered the pipeline (in flight when a process died, a redelivered task's re-fetch, cut by a fault)",
            "dispatched_not_stored": "task-level: paths of dispatched tasks with no stored sample (a failed fetch)",
        },
    }
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        asyncio.run(run_all(args, args.keep.resolve(), report))
    else:
        with tempfile.TemporaryDirectory(prefix="tiro-reliability-") as tmp:
            asyncio.run(run_all(args, Path(tmp), report))
    if not args.skip_fuzz:
        print("[reliability] fuzz: pytest tests/fuzz", file=sys.stderr)
        report["fuzz"] = run_fuzz()
    durable = [c for c in report["cases"] if c["mode"] == "durable"]
    core = [c for c in report["cases"] if c["mode"] == "core"]
    report["summary"] = {
        "durable_lost": sum(c["lost"] for c in durable),
        "durable_duplicated": sum(c["duplicated"] for c in durable),
        "durable_guarantee_held": all(c["lost"] == 0 and c["duplicated"] == 0 for c in durable),
        "durable_dispatched_not_stored": sum(max(0, c.get("dispatched_not_stored", 0)) for c in durable),
        "core_lost": sum(max(0, c["lost"]) for c in core),
        "core_dispatched_not_stored": sum(max(0, c.get("dispatched_not_stored", 0)) for c in core),
        "core_dispatched_points": sum(max(0, c.get("dispatched_points", 0)) for c in core),
        "core_served_not_stored": sum(max(0, c["served_not_stored"]) for c in core),
        "core_points_sent": sum(max(0, c["points_sent"]) for c in core),
    }
    report["seconds_total"] = round(time.monotonic() - began, 1)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"[reliability] wrote {args.out} in {report['seconds_total']} s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Benchmark: records/s into the sqlite stores, and the graph bootstrap of a 100,000-asset scenario on sqlite.

Prints JSON. Each part is an independent function returning a dict; `main` runs the parts named on the command line
(default: all). Targets (issue 5): ≥ 200,000 records/s into sqlite (message bytes through the tiro_store aggregator
to committed rows, both `aggregator_records_per_s`, telemetry alone, and `aggregator_with_graph_records_per_s`, the
default of a sqlite URL, where the graph reads the samples from the telemetry tables); bootstrap of 100,000 assets
≤ 10 s. The machine is shared, so each figure comes with a same-run baseline (`raw_sqlite_rows_per_s`: bare
executemany of ready rows) and the aggregator's rate per CPU second of this process (`*_per_cpu_s`), which other load
disturbs much less. `aggregator_with_graph_vs_telemetry_cpu` is the default path's CPU rate against telemetry alone in
the same run. `sqlite_graph_bootstrap` times reads of a graph on its own and of one linked to its file's telemetry
(`linked_*`).

`sqlite_large_hall` is the end-to-end pipeline's shape: 104,003 series, every point once per round, 1,000 records per
durable message; its first round creates every series (`*_first_round_*`), later rounds are the steady state
(`*_steady_*`, the figure the README shows first). Every round has fresh values and each point its own timestamp
within the round's poll interval.

    .venv/bin/python bench/stores.py [sqlite_records] [sqlite_large_hall] [sqlite_graph_bootstrap]
        [influx_writer_victoria]
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _datahall import scaled_datahall
from _realistic import POLL_INTERVAL_S, restamp, variety
from _stores_influx import influx_writer_victoria

from karez import codec
from karez.durable import DurableLink
from tiro.plugins.karez import TiroStoreAggregator
from tiro.stores.sqlite.graph import SqliteGraphStore
from tiro.stores.sqlite.telemetry import SqliteTelemetryStore
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.line_protocol import encode_many
from tiro_models.mock import Mocker
from tiro_models.records import decompose

TARGET_RECORDS_PER_S = 200_000
TARGET_BOOTSTRAP_S = 10.0


def _round_records(mocker: Mocker, k: int) -> list[dict[str, Any]]:
    """Round `k` of every point: fresh mock values, each point stamped at its own moment of the round's interval."""
    records = list(decompose("", mocker.snapshot()))
    end = 1_800_000_000.0 + (k + 1) * POLL_INTERVAL_S
    restamp(records, now=end, epoch=True, seed=k)
    return records


def _records(folder: Path, rounds: int) -> list[dict[str, Any]]:
    """`rounds` samples of every point of a 100-rack datahall (about 2,200 points), one poll interval apart."""
    scenario, uses = scaled_datahall(folder, racks=100, servers=10)
    mocker = Mocker(instantiate(load_model(scenario, uses), seed=1), seed=1)
    return [record for r in range(rounds) for record in _round_records(mocker, r)]


def _rate(write: Callable[[list], Any], records: list, batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(records), batch):
        write(records[i : i + batch])
    return len(records) / (time.perf_counter() - start)


def _raw_sqlite_rows_per_s(folder: Path, rows: int, batch: int) -> tuple[float, float]:
    """This machine's baseline: executemany of ready-made tuples into a table shaped like telemetry_samples.

    Returns (rows per wall second, rows per CPU second of this process)."""
    import sqlite3

    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE s (series INTEGER NOT NULL, ts_ns INTEGER NOT NULL, value, kind TEXT,"
        " PRIMARY KEY (ts_ns, series)) WITHOUT ROWID"
    )
    data = [(i % 1300, 1_800_000_000_000_000_000 + (i // 1300) * 10**9, i * 0.37, None) for i in range(rows)]

    def write(chunk: list) -> None:
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO s VALUES (?, ?, ?, ?)", chunk)
        conn.execute("COMMIT")

    cpu = time.process_time()
    rate = _rate(write, data, batch)
    cpu_rate = rows / (time.process_time() - cpu)
    conn.close()
    return rate, cpu_rate


class _Message:
    """What karez reads of a NATS message: its subject and body bytes."""

    def __init__(self, subject: str, data: bytes) -> None:
        self.subject = subject
        self.data = data


def _aggregator_rates(
    url: str, bodies: list[bytes], count: int, batch: int, *, durable: bool = False, targets: str = "telemetry"
) -> tuple[float, float]:
    """Records/s through the tiro_store aggregator: message bytes decoded as karez does, handled, committed.

    Returns (records per wall second, records per CPU second of this process; sqlite is written on the loop)."""
    role = TiroStoreAggregator(
        {
            "type": "tiro_store",
            "name": "bench",
            "category": "graph_data",
            "store": url,
            "targets": targets,
            "batch_size": batch,
        },
        nats_addr=None,
    )
    if durable:
        role.delivery = DurableLink()  # handle_items writes each message before it returns, as before an ack
    role.open_stores()
    subject = "karez.graph_data.tiro_preprocess"

    async def feed() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for body in bodies:
            items = role.decode(_Message(subject, body))
            role.stats.received += len(items)
            await role.handle_items(items, subject)
        await role.flush_writes()
        elapsed = time.perf_counter() - wall, time.process_time() - cpu
        await role.close()
        return elapsed

    wall_s, cpu_s = asyncio.run(feed())
    written = role.written
    if written != count:
        raise AssertionError(f"the aggregator wrote {written} of {count} records")
    return count / wall_s, count / cpu_s


def _stored_samples(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM telemetry_samples").fetchone()[0]


def sqlite_records(total: int = 300_000, batch: int = 5_000) -> dict[str, Any]:
    """Records/s into sqlite: through the tiro_store aggregator from message bytes (the figure the target is about),
    then the store's own write_records/write_lines and the graph upsert; a bare executemany baseline in the same run.
    """
    with tempfile.TemporaryDirectory(prefix="tiro-bench-stores-") as tmp:
        folder = Path(tmp)
        records = _records(folder / "model", rounds=1)
        rounds = max(1, total // len(records))
        records = _records(folder / "model2", rounds=rounds)
        count = len(records)
        # NATS-shaped input: one JSON array per message, as tiro_preprocess publishes a batch
        bodies = [codec.dumps(records[i : i + batch]) for i in range(0, count, batch)]
        lines = encode_many(records, measurement="tiro_telemetry", field_name="field", field_value="value").split("\n")
        input_variety = variety(records)
        del records  # the aggregator runs with a small heap, as in its own process
        gc.collect()
        out: dict[str, Any] = {"records": count, "batch": batch, "series": count // rounds}
        out["input_variety"] = input_variety
        out["message_bytes_per_record"] = round(sum(map(len, bodies)) / count, 1)

        raw, raw_cpu = _raw_sqlite_rows_per_s(folder, count, batch)
        out["raw_sqlite_rows_per_s"] = round(raw)
        url = f"sqlite:///{folder / 'agg.db'}"
        wall, cpu = _aggregator_rates(url, bodies, count, batch)
        out["aggregator_records_per_s"] = round(wall)
        out["aggregator_vs_raw"] = round(wall / raw, 2)
        replay, _ = _aggregator_rates(url, bodies, count, batch)  # the same messages again: stored once
        out["aggregator_replay_records_per_s"] = round(replay)
        if _stored_samples(folder / "agg.db") != count:
            raise AssertionError("a replay duplicated samples")
        durable, _ = _aggregator_rates(f"sqlite:///{folder / 'durable.db'}", bodies, count, batch, durable=True)
        out["aggregator_durable_records_per_s"] = round(durable)
        out["raw_sqlite_rows_per_cpu_s"] = round(raw_cpu)
        out["aggregator_records_per_cpu_s"] = round(cpu)
        with_graph, with_graph_cpu = _aggregator_rates(
            f"sqlite:///{folder / 'both.db'}", bodies, count, batch, targets="telemetry,graph"
        )
        out["aggregator_with_graph_records_per_s"] = round(with_graph)
        out["aggregator_with_graph_records_per_cpu_s"] = round(with_graph_cpu)
        # the default of a sqlite URL (telemetry + graph) against telemetry alone, per CPU second: the graph's cost
        out["aggregator_with_graph_vs_telemetry_cpu"] = round(with_graph_cpu / cpu, 2)

        records = [record for body in bodies for record in codec.loads(body)]
        telemetry = SqliteTelemetryStore(str(folder / "t.db"))
        telemetry.bootstrap()
        out["write_records_per_s"] = round(_rate(telemetry.write_records, records, batch))
        out["replay_records_per_s"] = round(_rate(telemetry.write_records, records, batch))  # idempotent overwrite
        telemetry.close()

        lines_store = SqliteTelemetryStore(str(folder / "l.db"))
        lines_store.bootstrap()
        out["write_lines_per_s"] = round(_rate(lines_store.write_lines, lines, batch))
        start = time.perf_counter()
        latest = lines_store.latest()
        out["latest_all_ms"] = round((time.perf_counter() - start) * 1000, 1)
        start = time.perf_counter()
        history = lines_store.history("%%Server%FlowRate", since=0, step=60, agg="mean")
        out["history_flowrate_ms"] = round((time.perf_counter() - start) * 1000, 1)
        out["latest_series"] = len(latest)
        out["history_series"] = len(history)
        lines_store.close()

        graph = SqliteGraphStore(str(folder / "g.db"))
        cpu_start = time.process_time()
        out["graph_upserts_per_s"] = round(_rate(graph.upsert_records, records, batch))
        out["graph_upserts_per_cpu_s"] = round(count / (time.process_time() - cpu_start))
        graph.close()
        out["db_bytes_per_record"] = round(os.path.getsize(folder / "t.db") / count, 1)
    out["target_records_per_s"] = TARGET_RECORDS_PER_S
    # from message bytes to committed rows, telemetry alone and with the graph (the default of a sqlite URL)
    from_bytes = min(out["aggregator_records_per_s"], out["aggregator_with_graph_records_per_s"])
    out["meets_target"] = from_bytes >= TARGET_RECORDS_PER_S
    return out


def sqlite_large_hall(racks: int = 2_000, servers: int = 49, message: int = 1_000) -> dict[str, Any]:
    """The end-to-end pipeline's shape: a 104,003-point hall, each point once per round, `message` records per durable
    message (a write per message, before its ack). The first round creates every series; later rounds are the steady
    state. Records per second through the tiro_store aggregator from message bytes, telemetry alone and with the graph.
    """
    with tempfile.TemporaryDirectory(prefix="tiro-bench-hall-") as tmp:
        folder = Path(tmp)
        scenario, uses = scaled_datahall(folder / "model", racks=racks, servers=servers)
        mocker = Mocker(instantiate(load_model(scenario, uses), seed=1), seed=1)
        variety_of_round: dict[str, int] = {}

        def round_bodies(k: int) -> list[bytes]:
            records = _round_records(mocker, k)
            for record in records:
                record["_karez"] = {"category": "store_data"}
            variety_of_round.update(variety(records))
            return [codec.dumps(records[i : i + message]) for i in range(0, len(records), message)]

        first, steady = round_bodies(0), round_bodies(1) + round_bodies(2)
        out: dict[str, Any] = {
            "points": variety_of_round["points"],
            "input_variety_per_round": variety_of_round,
            "records_per_message": message,
            "readme_shows": "*_steady_records_per_s, with *_first_round_records_per_s beside them",
        }
        for name, targets in (("telemetry", "telemetry"), ("with_graph", "telemetry,graph")):
            role = TiroStoreAggregator(
                {
                    "type": "tiro_store",
                    "name": "bench",
                    "category": "store_data",
                    "store": f"sqlite:///{folder / name}.db",
                    "targets": targets,
                },
                nats_addr=None,
            )
            role.delivery = DurableLink()  # handle_items writes each message before it returns, as before an ack
            role.open_stores()

            async def feed(bodies: list[bytes], role: TiroStoreAggregator = role) -> float:
                start = time.perf_counter()
                for body in bodies:
                    await role.handle_items(role.decode(_Message("karez.store_data.to_store", body)), "")
                return time.perf_counter() - start

            first_s = asyncio.run(feed(first))
            steady_s = asyncio.run(feed(steady))
            asyncio.run(role.close())
            out[f"{name}_first_round_records_per_s"] = round(out["points"] / first_s)
            out[f"{name}_steady_records_per_s"] = round(2 * out["points"] / steady_s)
    return out


def _graph_upsert_and_reads(graph: SqliteGraphStore, flows: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """Seconds to upsert the records, then the qpath and pattern reads of the bootstrap part, timed."""
    start = time.perf_counter()
    graph.upsert_records(flows)
    upsert_s = time.perf_counter() - start
    qpath = {"DataHall": {"Rack": {"$name_match": "_7$", "Server": {"FlowRate": {"$lt": 10}}}}}
    start = time.perf_counter()
    result = graph.query_qpath(qpath)
    qpath_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    everything = graph.query_qpath({"DataHall": {"Rack": {"Server": {"FlowRate": None}}}})
    qpath_all_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    latest = graph.latest("%%Server%FlowRate")
    latest_ms = (time.perf_counter() - start) * 1000
    return upsert_s, {
        "qpath_name_match_and_lt_ms": round(qpath_ms, 1),
        "qpath_racks": len(result.get("DataHall", {}).get("data_hall_0", {}).get("Rack", {})),
        "qpath_all_servers_ms": round(qpath_all_ms, 1),
        "qpath_all_racks": len(everything.get("DataHall", {}).get("data_hall_0", {}).get("Rack", {})),
        "latest_pattern_all_servers_ms": round(latest_ms, 1),
        "latest_points": len(latest),
    }


def sqlite_graph_bootstrap(racks: int = 1_000, servers: int = 99) -> dict[str, Any]:
    """Bootstrap of the graph from a scenario of 1 + racks + racks*servers (+1 CRAC) assets, then re-syncs."""
    with tempfile.TemporaryDirectory(prefix="tiro-bench-graph-") as tmp:
        folder = Path(tmp)
        scenario, uses = scaled_datahall(folder / "model", racks=racks, servers=servers)
        model = load_model(scenario, uses)
        start = time.perf_counter()
        instances = instantiate(model, seed=1)
        instantiate_s = time.perf_counter() - start
        graph = SqliteGraphStore(str(folder / "g.db"))
        start = time.perf_counter()
        first = graph.bootstrap(model, instances)
        bootstrap_s = time.perf_counter() - start
        start = time.perf_counter()
        again = graph.bootstrap(model, instances)
        resync_s = time.perf_counter() - start
        kept = instances.assets[: len(instances.assets) * 9 // 10]
        smaller = replace(instances, assets=kept)
        start = time.perf_counter()
        shrunk = graph.bootstrap(model, smaller)
        shrink_s = time.perf_counter() - start
        servers = [a.path for a in kept if a.slot.name == "Server"]
        flows = [
            {"asset_path": path, "type": "Telemetry", "field": "FlowRate", "value": float(i % 100), "unit": "L/hr"}
            for i, path in enumerate(servers)
        ]
        upsert_s, reads = _graph_upsert_and_reads(graph, flows)
        graph.close()
        # what tiro_store opens for a sqlite URL: the graph linked to the telemetry of its file
        linked = SqliteGraphStore(telemetry=SqliteTelemetryStore(str(folder / "linked.db")))
        linked.bootstrap(model, smaller)
        linked_upsert_s, linked_reads = _graph_upsert_and_reads(linked, flows)
        linked.close()
    return {
        "assets": len(instances.assets),
        "instantiate_s": round(instantiate_s, 3),
        "bootstrap_s": round(bootstrap_s, 3),
        "created": first.created[-1],
        "resync_unchanged_s": round(resync_s, 3),
        "resync_changes": len(again.created) + len(again.removed),
        "sync_removing_10pct_s": round(shrink_s, 3),
        "removed_assets": sum(1 for e in shrunk.removed if e.startswith("asset ")),
        "upsert_server_flowrates_s": round(upsert_s, 3),
        **reads,
        "linked_upsert_server_flowrates_s": round(linked_upsert_s, 3),
        **{f"linked_{key}": value for key, value in linked_reads.items()},
        "target_bootstrap_s": TARGET_BOOTSTRAP_S,
        "meets_target": bootstrap_s <= TARGET_BOOTSTRAP_S,
    }


PARTS: dict[str, Callable[[], dict[str, Any]]] = {
    "sqlite_records": sqlite_records,
    "sqlite_large_hall": sqlite_large_hall,
    "sqlite_graph_bootstrap": sqlite_graph_bootstrap,
    "influx_writer_victoria": influx_writer_victoria,
}


def main(argv: list[str]) -> None:
    """Run the named parts (all by default) and print one JSON object."""
    names = argv or list(PARTS)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise SystemExit(f"unknown part(s) {unknown}: choose from {list(PARTS)}")
    print(json.dumps({name: PARTS[name]() for name in names}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])

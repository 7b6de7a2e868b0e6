"""Karez bus benchmark: dispatcher → connector → two converters → aggregator on a real nats-server.

Prints JSON: items/s for per-item vs batch messages, core vs durable (JetStream), shared vs per-role connection,
one process vs two (`processes: 2`: a second process runs every role but the dispatcher, as `karez deploy --workers 2`
does; the targets are for the machine, i.e. both cores). Same-run baselines: nats-py's own pub→sub rate on one
connection (the per-item chain costs 3 messages per item), per-item durable mode, and each single-process chain with
its converters unfused (`chain`: one NATS hop per role, as before karez.fusion; fused is `karez deploy`'s default).
Usage: python bench/bus.py [--items N] [--task-size N]

Connection choice: `karez deploy` shares one NATS connection between all roles of a process. Measured here the
two are equal within run-to-run noise (per-item 6.8k vs 8.5k, batch 85k vs 82k items/s, other runs the other way
round), so the shared one wins on resources (one socket, one reader/flusher task) and keeps publish order across
hops; `--connection-per-role` remains available (batch, rerun with the two-process cases: 80–97k vs 84–99k items/s).

The devices' replies (distinct paths, values and timestamps per entity) are made before the clock starts: they are
the devices' cost, as the mock's answers are the mock's in pipeline.py, not the chain's.

`cpu_us_per_item` is the CPU time of the karez processes per item (nats-server excluded). When other work shares the
cores, wall-clock items/s swing by 2× between runs while this figure moves by about ±10%: compare it first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
import uuid
from typing import Any

import nats

from karez.aggregator.base import AggregatorBase
from karez.config import ConfigEntity
from karez.connector.base import PullConnectorBase
from karez.dispatcher.base import DispatcherBase
from karez.embedded_nats import EmbeddedNats
from karez.frames import COLUMNS_KEY, FrameSchema, frame_length, is_frame, make_frame, register_schema
from karez.nats_options import NatsOptions
from karez.plugins import BUILTIN_PLUGINS, KINDS
from karez.runtime import Runtime, build_roles, tune_gc_for_batches
from karez.workers import worker_kinds


class SyntheticDispatcher(DispatcherBase):
    """`count` integer entities per round (generated, so that the config stays small)."""

    @classmethod
    def config_entities(cls):
        """Number of entities."""
        yield from super().config_entities()
        yield ConfigEntity("count", "Entities per round")

    def load_entities(self):
        return list(range(int(self.config.count)))


def synthetic_item(e: int) -> dict:
    """Entity e's item: its own series, a value spread over 15-40 °C, its own timestamp (no role caches by any)."""
    return {
        "path": f"DataHall.data_hall_0.CRAC.crac_{e}.Telemetry.ReturnTemperature",
        "value": round(15 + (e * 7919 % 25_000) / 1000, 2),
        "timestamp": 1.7e9 + e * 0.000_1,
    }


class DeviceReplies:
    """What the synthetic devices answer, entity by entity (`synthetic_item`'s columns), made before the clock
    starts: making a reply is the device's cost, not the chain's (in pipeline.py the mock does it, in its own
    process). It was about half of the frames chain's CPU here."""

    def __init__(self, count: int) -> None:
        items = [synthetic_item(e) for e in range(count)]
        self.paths = [item["path"] for item in items]
        self.values = [item["value"] for item in items]
        self.stamps = [item["timestamp"] for item in items]

    def item(self, e: int) -> dict:
        """Entity e's reply as an item (a dict of its own, as a per-item connector makes it)."""
        return {"path": self.paths[e], "value": self.values[e], "timestamp": self.stamps[e]}

    def columns(self, entities: list[int]) -> dict[str, list[Any]]:
        """The replies of entities as columns."""
        return {
            "path": list(map(self.paths.__getitem__, entities)),
            "value": list(map(self.values.__getitem__, entities)),
            "timestamp": list(map(self.stamps.__getitem__, entities)),
        }


def _synthetic_rows(frame: dict, indices: Any) -> list[dict]:
    columns = frame[COLUMNS_KEY]
    rows = range(len(columns["path"])) if indices is None else indices
    return [{name: columns[name][i] for name in ("path", "value", "timestamp")} for i in rows]


SYNTHETIC = register_schema(FrameSchema("bench.synthetic", ("path", "value", "timestamp"), _synthetic_rows))


class SyntheticConnector(PullConnectorBase):
    """One telemetry item per entity (with `frames`: a task's items as one frame, its columns built directly)."""

    FRAMES = True
    replies: DeviceReplies | None = None  # set before the clock starts, in every process

    async def fetch_data(self, client, entities):
        replies = SyntheticConnector.replies
        assert replies is not None, "the bench makes the devices' replies before it starts the roles"
        if self.frames_encoding is None:
            return list(map(replies.item, entities))
        return [make_frame(SYNTHETIC.name, replies.columns(entities))]


class CountingAggregator(AggregatorBase):
    """Counts items (a frame: its rows) into its slot of a shared array (one slot per process); the bench polls the
    sum."""

    FRAMES = True
    counts: Any = None
    slot = 0
    count = 0

    def process(self, payload):
        cls = CountingAggregator
        cls.count += frame_length(payload) if is_frame(payload) else 1
        cls.counts[cls.slot] = cls.count


def bench_plugins() -> dict:
    plugins = {kind: dict(table) for kind, table in BUILTIN_PLUGINS.items()}
    plugins["dispatcher"]["synthetic"] = SyntheticDispatcher
    plugins["connector"]["synthetic"] = SyntheticConnector
    plugins["aggregator"]["counting"] = CountingAggregator
    return plugins


def worker_process(
    url: str, cfg: dict, counts: Any, cpu: Any, slot: int, ready: Any, stop: Any, fuse: bool = True
) -> None:
    """An extra process running every role but the dispatcher (as `karez deploy --workers` does)."""

    async def run() -> None:
        CountingAggregator.counts, CountingAggregator.slot, CountingAggregator.count = counts, slot, 0
        SyntheticConnector.replies = DeviceReplies(int(cfg["dispatchers"][0]["count"]))
        roles = build_roles(cfg, bench_plugins(), kinds=worker_kinds(KINDS, slot))
        runtime = Runtime(roles, NatsOptions.from_address(url), metrics_interval=0, fuse=fuse)
        await runtime.start()
        c0 = time.process_time()
        ready.set()
        await asyncio.to_thread(stop.wait)
        cpu[slot] = time.process_time() - c0
        await runtime.shutdown()

    asyncio.run(run())


def config(n_items: int, batch: bool, durable: bool, task_size: int, frames: bool = False) -> dict:
    s = uuid.uuid4().hex[:6]
    role = {"batch": batch, "durable": durable, **({"frames": True} if frames else {})}
    return {
        "dispatchers": [
            {"type": "synthetic", "name": f"d{s}", "connector": f"src{s}", "interval": 3600,
             "batch_size": task_size, "count": n_items}
        ],
        "connectors": [{"type": "synthetic", "name": f"src{s}", "converter": f"c1{s}", **role}],
        "converters": [
            {"type": "echo", "name": f"c1{s}", "next": f"c2{s}", **role},
            {"type": "filter_and_update_meta", "name": f"c2{s}", "key": "category",
             "rename": {"telemetry": f"bench{s}"}, **role},
        ],
        "aggregators": [{"type": "counting", "name": f"a{s}", "category": f"bench{s}", **role}],
    }  # fmt: skip


async def run_case(
    url: str, n_items: int, batch: bool, durable: bool, shared: bool, task_size: int, processes: int = 1,
    fuse: bool = True, frames: bool = False,
) -> dict:  # fmt: skip
    """Items/s through the chain; with processes > 1 the extra ones are started (and subscribed) before the clock;
    `fuse`: the converters get the connector's items in memory (karez.fusion), else one NATS hop each."""
    cfg = config(n_items, batch, durable, task_size, frames)
    ctx = multiprocessing.get_context("spawn")  # this process already runs an event loop: no fork
    counts, cpu = ctx.RawArray("q", processes), ctx.RawArray("d", processes)
    stop = ctx.Event()
    workers = []
    for slot in range(1, processes):
        ready = ctx.Event()
        proc = ctx.Process(target=worker_process, args=(url, cfg, counts, cpu, slot, ready, stop, fuse))
        proc.start()
        workers.append(proc)
        await asyncio.to_thread(ready.wait, 120)
    CountingAggregator.counts, CountingAggregator.slot, CountingAggregator.count = counts, 0, 0
    SyntheticConnector.replies = DeviceReplies(n_items)
    roles = build_roles(cfg, bench_plugins())
    runtime = Runtime(roles, NatsOptions.from_address(url), shared_connection=shared, metrics_interval=0, fuse=fuse)
    t0, c0 = time.perf_counter(), time.process_time()
    await runtime.start()
    try:
        deadline = t0 + 600
        while sum(counts) < n_items:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{sum(counts)} of {n_items} items arrived")
            await asyncio.sleep(0.005)  # polling a counter shared with other processes
        elapsed, cpu[0] = time.perf_counter() - t0, time.process_time() - c0
    finally:
        stop.set()
        await runtime.shutdown()
        for proc in workers:
            await asyncio.to_thread(proc.join, 60)
    return {
        "mode": "frames" if frames else "batch" if batch else "per-item",
        "delivery": "durable" if durable else "core",
        "connection": "shared" if shared else "per-role",
        "processes": processes,
        "chain": "fused (one NATS hop: connector to aggregator)" if fuse else "a NATS hop per role (4)",
        "items": n_items,
        "seconds": round(elapsed, 3),
        "items_per_s": round(n_items / elapsed),
        # CPU of the karez processes (nats-server excluded), summed: steadier than wall time on shared cores
        "cpu_us_per_item": round(sum(cpu) / n_items * 1e6, 2),
    }


async def nats_py_ceiling(url: str, n: int = 200_000, size: int = 100) -> dict:
    """Bare nats-py pub→sub on one connection: the per-message ceiling under a per-item chain (3 messages/item)."""
    nc = await nats.connect(url)
    received = 0
    done = asyncio.Event()

    async def on_msg(msg) -> None:
        nonlocal received
        received += 1
        if received >= n:
            done.set()

    await nc.subscribe("bench.ceiling", cb=on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1)
    await nc.flush()
    body = b"x" * size
    t0 = time.perf_counter()
    for i in range(n):
        await nc.publish("bench.ceiling", body)
        if not i & 1023:
            await nc.flush()  # bounded backlog, as the runtime's subscribers do
    await asyncio.wait_for(done.wait(), timeout=300)
    elapsed = time.perf_counter() - t0
    await nc.close()
    return {"case": "nats_py_pub_sub_ceiling", "messages": n, "bytes": size, "msgs_per_s": round(n / elapsed)}


SITE_SERIES = 104_003  # the data points of bench/pipeline.py's datahall


def line_protocol_rate(series: int = 10_000, rounds: int = 30) -> dict:
    """Encoder throughput of the influx_line_protocol converter's core over `series` distinct series: the first
    round fills the per-series head cache (`cold`), later rounds are a collector's steady state (`lines_per_s`, the
    figure the README shows). Values and timestamps differ on every line."""
    from line_protocol_text import encode_line

    tag_sets = [
        {"path": "DataHall.CRAC.ReturnTemperature", "asset_path": f"DataHall.data_hall_0.CRAC.crac_{k}",
         "DataHall": "data_hall_0", "CRAC": f"crac_{k}", "type": "Telemetry"}
        for k in range(series)
    ]  # fmt: skip
    t0 = time.perf_counter()
    for k, tags in enumerate(tag_sets):
        encode_line("tiro_telemetry", tags, "ReturnTemperature", 20.5 + k * 0.01, 1664251882666721024 + k)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in range(1, rounds):
        base = 1664251882666721024 + r * 10_000_000_000
        for k, tags in enumerate(tag_sets):
            encode_line("tiro_telemetry", tags, "ReturnTemperature", 20.5 + r + k * 0.01, base + k * 997)
    steady = series * (rounds - 1)
    return {
        "case": "line_protocol_encode" if series < SITE_SERIES else "line_protocol_encode_site",
        "series": series,
        "lines": series * rounds,
        "lines_per_s": round(steady / (time.perf_counter() - t0)),
        "cold_first_round_lines_per_s": round(series / cold_s),
        "readme_shows": "lines_per_s (steady), with the cold first round beside it",
    }


async def main(args: argparse.Namespace) -> None:
    n = args.items
    cases = [
        # (items, batch, durable, shared connection, processes, fused, frames)
        (4 * n, True, False, True, 1, True, True),
        (4 * n, True, True, True, 1, True, True),
        (4 * n, True, False, True, 1, False, True),
        (4 * n, True, True, True, 2, True, True),
        (n // 4, False, False, True, 1, True),
        (n // 4, False, False, True, 1, False),
        (n // 4, False, False, True, 2, True),
        (n, True, False, True, 1, True),
        (n, True, False, True, 1, False),
        (n, True, False, False, 1, True),
        (n, True, False, True, 2, True),
        (n, True, True, True, 1, True),
        (n, True, True, True, 1, False),
        (n, True, True, True, 2, True),
        (n // 40, False, True, True, 1, True),
    ]
    results = []
    with EmbeddedNats() as server:
        results.append(await nats_py_ceiling(server.url))
        print(json.dumps(results[-1]), file=sys.stderr)
        for items, batch, durable, shared, processes, fuse, *framed in cases:
            frames = bool(framed and framed[0])
            results.append(
                await run_case(server.url, items, batch, durable, shared, args.task_size, processes, fuse, frames)
            )
            print(json.dumps(results[-1]), file=sys.stderr)
    results.append(line_protocol_rate())
    results.append(line_protocol_rate(SITE_SERIES, rounds=4))  # a real hall's series count: every head cached?
    items = [synthetic_item(e) for e in range(n)]
    input_variety = {
        "items": n,
        "distinct_paths": len({i["path"] for i in items}),
        "distinct_timestamps": len({i["timestamp"] for i in items}),
        "distinct_values": len({i["value"] for i in items}),
    }
    out = {"benchmark": "karez_bus", "cpus": os.cpu_count(), "input_variety": input_variety, "results": results}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    tune_gc_for_batches()  # as `karez deploy` runs its roles
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=400_000)
    parser.add_argument("--task-size", type=int, default=1000, help="entities per task message")
    asyncio.run(main(parser.parse_args()))

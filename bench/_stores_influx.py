"""Benchmark part: points/s through the `influx_writer` aggregator into a real VictoriaMetrics (`/api/v2/write`).

Line protocol of a 100-rack datahall (the §6 lines Karez `influx_line_protocol` publishes), `lines_per_message` lines
per NATS message (Karez `batch: true`), published on `karez.telemetry.influx_line_protocol`; the aggregator runs in
this process against an embedded nats-server. The clock runs from the first publish until the last batch was
acknowledged by VictoriaMetrics; every point is then counted back from `/api/v1/export`. Baseline in the same run:
the store's `write_lines` alone (no NATS, no aggregator).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nats

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "stores"))

from _datahall import scaled_datahall
from _realistic import POLL_INTERVAL_S, restamp
from victoria import VictoriaMetrics, victoria_binary

from karez.embedded_nats import EmbeddedNats
from tiro.plugins.karez import InfluxWriterAggregator
from tiro.stores.influx import InfluxTelemetryStore
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.line_protocol import encode
from tiro_models.mock import Mocker
from tiro_models.records import decompose

TARGET_POINTS_PER_S = 100_000


def _lines(points: int, measurement: str) -> list[str]:
    """`points` telemetry lines: every numeric telemetry point of the datahall, one round per poll interval, fresh
    values each round and each point stamped at its own moment of its round."""
    with tempfile.TemporaryDirectory(prefix="tiro-bench-influx-") as tmp:
        scenario, uses = scaled_datahall(Path(tmp), racks=100, servers=10)
        mocker = Mocker(instantiate(load_model(scenario, uses), seed=1), seed=1)
    lines: list[str] = []
    second = 0.0
    while len(lines) < points:
        records = [
            r
            for r in decompose("", mocker.snapshot())
            if r["type"] == "Telemetry" and isinstance(r["value"], int | float) and not isinstance(r["value"], bool)
        ]
        # in the past: VictoriaMetrics drops samples from the future
        restamp(records, now=1_700_000_000.0 + second, epoch=True, seed=int(second))
        lines.extend(encode(record, measurement=measurement) for record in records[: points - len(lines)])
        second += POLL_INTERVAL_S
    return lines


def _count(vm: VictoriaMetrics, measurement: str, expected: int) -> int:
    """Points stored for the measurement (all fields), polled until `expected` are visible or 60 s passed."""
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline:
        httpx.get(f"{vm.url}/internal/force_flush", timeout=30)
        count = sum(len(s["values"]) for s in vm.export(f'{{__name__=~"{measurement}_.*"}}'))
        if count >= expected:
            break
        time.sleep(0.5)  # VictoriaMetrics makes new data searchable in the background
    return count


async def _through_writer(vm: VictoriaMetrics, lines: list[str], per_message: int, batch_size: int) -> float:
    messages = ["\n".join(lines[i : i + per_message]).encode() for i in range(0, len(lines), per_message)]
    with EmbeddedNats() as server:
        role = InfluxWriterAggregator(
            {"type": "influx_writer", "url": vm.url, "token": "bench", "batch_size": batch_size},
            nats_addr=server.url,
        )
        await role.start()
        client = await nats.connect(server.url)
        start = time.perf_counter()
        for body in messages:
            await client.publish("karez.telemetry.influx_line_protocol", body)
        await client.flush()
        while role.stats.received < len(messages):
            await asyncio.sleep(0.005)
        await role.drain()
        elapsed = time.perf_counter() - start
        written, failed = role.lines_written, role.lines_failed
        await role.close()
        await client.close()
    if written != len(lines) or failed:
        raise RuntimeError(f"influx_writer wrote {written} of {len(lines)} lines ({failed} failed)")
    return elapsed


def influx_writer_victoria(
    points: int = 300_000, lines_per_message: int = 500, batch_size: int = 5_000
) -> dict[str, Any]:
    """Points/s through influx_writer into VictoriaMetrics, checked by counting the points back."""
    if victoria_binary() is None:
        return {"skipped": "victoria-metrics not on PATH (apt-get install -y victoria-metrics)"}
    out: dict[str, Any] = {"points": points, "lines_per_message": lines_per_message, "batch_size": batch_size}
    with VictoriaMetrics() as vm:
        baseline_lines = _lines(points, "bench_baseline")
        store = InfluxTelemetryStore(vm.url, token="bench", batch_size=batch_size)
        start = time.perf_counter()
        store.write_lines(baseline_lines)
        out["baseline_store_write_lines_per_s"] = round(points / (time.perf_counter() - start))
        store.close()
        lines = _lines(points, "bench_writer")
        elapsed = asyncio.run(_through_writer(vm, lines, lines_per_message, batch_size))
        out["influx_writer_points_per_s"] = round(points / elapsed)
        out["points_read_back"] = _count(vm, "bench_writer", points)
    out["all_points_read_back"] = out["points_read_back"] == points
    out["target_points_per_s"] = TARGET_POINTS_PER_S
    out["meets_target"] = out["influx_writer_points_per_s"] >= TARGET_POINTS_PER_S and out["all_points_read_back"]
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(influx_writer_victoria(), indent=2))

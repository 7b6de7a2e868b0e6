"""Benchmark: the mock server's per-point and batch routes, and the seed pipeline's collect→validate rate.

Prints JSON. Baselines measured in the same run: one sequential GET per point (how Tiro 0.13's connector collected).
The library gives every point a `time_var` of one poll interval, so the mock stamps each point at its own moment (as
devices polled in turn) and the validator downstream cannot lean on shared timestamps; `input_variety_batch_sample`
shows what one batch holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import nats
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _datahall import scaled_datahall
from _http_load import python_requests_per_s, wrk_requests_per_s
from _realistic import POLL_INTERVAL_S, iter_dps, variety

from karez.embedded_nats import EmbeddedNats
from tiro.mock.server import free_port

BIN = Path(sys.executable).parent
TARGET_BATCH_POINTS_PER_S = 200_000
TARGET_POINT_REQUESTS_PER_S = 6_500  # issue #8: Tiro 0.13 served 4,357/s; the README quotes this target


def start_mock(scenario: Path, uses: list[Path], port: int) -> subprocess.Popen:
    """`tiro mock serve` in its own process (one uvicorn worker), ready when /points/ answers."""
    proc = subprocess.Popen(
        [str(BIN / "tiro"), "mock", "serve", str(scenario), *map(str, uses), "--port", str(port), "--seed", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/points/", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("mock server did not start")


def batch_sample_variety(base: str, paths: list[str], n: int = 5_000) -> dict[str, int]:
    """Distinct timestamps and values in one `POST /points/batch` answer of `n` points."""
    body = httpx.post(f"{base}/points/batch", content=orjson.dumps(paths[:n]), timeout=60).content
    return variety(iter_dps(orjson.loads(body)))


def batch_points_per_s(base: str, paths: list[str], chunk: int = 10_000, seconds: float = 8) -> float:
    """Points/s fetched through POST /points/batch in chunks, two requests in flight."""

    async def main() -> float:
        chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
        served = 0
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            start = time.perf_counter()
            i = 0
            while time.perf_counter() - start < seconds:
                pair = [chunks[(i + k) % len(chunks)] for k in range(2)]
                i += 2
                bodies = await asyncio.gather(*(client.post("/points/batch", content=orjson.dumps(c)) for c in pair))
                served += sum(len(orjson.loads(b.content)["points"]) for b in bodies)
            return served / (time.perf_counter() - start)

    return asyncio.run(main())


def sequential_points_per_s(base: str, paths: list[str], seconds: float = 5) -> float:
    """The baseline: one GET per point, one after the other (Tiro 0.13's connector)."""
    done = 0
    with httpx.Client(base_url=base, timeout=10) as client:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            client.get(f"/points/{paths[done % len(paths)]}").raise_for_status()
            done += 1
        return done / (time.perf_counter() - start)


PIPELINE_CONFIG = """dispatchers:
  - type: tiro_mock
    connector: tiro_mock
    batch_size: {batch_size}
    interval: {interval}
    base_url: {base}
connectors:
  - type: tiro_mock
    base_url: {base}
    batch: true
    converter: [update_category_for_validator]
converters:
  - name: update_category_for_validator
    type: filter_and_update_meta
    key: category
    batch: true
    rename: {{telemetry: validation_data, attribute: validation_data}}
aggregators:
  - type: tiro_validate
    category: validation_data
    scenario: {scenario}
    uses: "{uses}"
    retention: {retention}
    log_file: {log}
"""


def collect_validate_points_per_s(folder: Path, base: str, scenario: Path, uses: list[Path], seconds: float) -> dict:
    """Run the seed pipeline (batch mode) for `seconds`; the aggregator's received counter gives points/s."""
    example = Path(__file__).resolve().parents[1] / "scenarios" / "datahall" / "karez"
    config = folder / "karez.yaml"
    log = folder / "validation.log"
    config.write_text(
        PIPELINE_CONFIG.format(
            interval=2,
            batch_size=int(os.environ.get("BENCH_BATCH", 1000)),
            base=base,
            scenario=scenario,
            uses=",".join(map(str, uses)),
            retention=4,
            log=log,
        )
    )
    with EmbeddedNats() as server:
        received: list[tuple[float, int]] = []

        async def watch() -> None:
            client = await nats.connect(server.url)

            async def on_metrics(msg) -> None:
                body = json.loads(msg.data)
                if body["kind"] == "aggregator":
                    received.append((time.perf_counter(), body["received"]))

            await client.subscribe("karez.metrics.aggregator.>", cb=on_metrics)
            proc = subprocess.Popen(
                [
                    str(BIN / "karez"),
                    "deploy",
                    "-c",
                    str(config),
                    "-p",
                    str(example),
                    "-a",
                    server.url,
                    "--metrics-interval",
                    "1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                await asyncio.sleep(seconds)
            finally:
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 60)
                await client.close()

        asyncio.run(watch())
    windows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    full = [w for w in windows if not w["partial"]]
    steady = received[2:]  # skip start-up
    rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) if len(steady) >= 2 else 0.0
    return {
        "points_per_s": round(rate),
        "windows": len(full),
        "windows_valid": sum(1 for w in full if w["valid"]),
        "last_collection_size": full[-1]["collection_size"] if full else 0,
    }


def main() -> None:
    racks, servers = int(os.environ.get("BENCH_RACKS", 2000)), int(os.environ.get("BENCH_SERVERS", 49))
    with tempfile.TemporaryDirectory(prefix="tiro-bench-mock-") as tmp:
        folder = Path(tmp)
        scenario, uses = scaled_datahall(folder / "scenario", racks, servers, time_var=POLL_INTERVAL_S)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_mock(scenario, uses, port)
        try:
            paths = httpx.get(f"{base}/points/", timeout=60).json()
            sample_variety = batch_sample_variety(base, paths)
            one = f"/points/{paths[len(paths) // 2]}"
            wrk = wrk_requests_per_s(base + one)
            python_client = python_requests_per_s("127.0.0.1", port, one, seconds=5)
            batch = batch_points_per_s(base, paths)
            baseline = sequential_points_per_s(base, paths)
            pipeline = collect_validate_points_per_s(folder, base, scenario, uses, seconds=25)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    result = {
        "benchmark": "mock",
        "data_points": len(paths),
        "input_variety_batch_sample": sample_variety,
        "per_point_route_requests_per_s": {
            "wrk_50_connections": wrk,
            "python_client_50_connections": round(python_client),
        },
        "batch_route_points_per_s": round(batch),
        "baseline_sequential_get_points_per_s": round(baseline),
        "collect_validate": pipeline,
        "speedup_batch_vs_baseline": round(batch / baseline, 1),
        "targets": {
            "batch_route_points_per_s": TARGET_BATCH_POINTS_PER_S,
            "per_point_requests_per_s": TARGET_POINT_REQUESTS_PER_S,
            "batch_met": batch >= TARGET_BATCH_POINTS_PER_S,
            "per_point_met": (wrk or python_client) >= TARGET_POINT_REQUESTS_PER_S,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: `tiro_preprocess` on batches shaped like the mock's batch route, ours vs the per-item paths.

Prints one JSON object. Items are what the `tiro_mock` connector publishes in batch mode (`{path, result: DP,
_karez: {category}}` from `POST /points/batch` of a scaled datahall), decoded from JSON bytes as they arrive over
NATS. Each point is stamped at its own moment (as devices polled in turn), so the converter's timestamp cache cannot
help; `same_timestamp_*` is the example library's own mock output, where a round's points share one timestamp.
Measured in the same run, best of `--rounds`:
- `ours`: `TiroPreprocessConverter.handle_items` (the batch path the runtime calls);
- `baseline_runtime_per_item`: the runtime's generic path, the default `ConverterBase.convert_batch` calling `convert`
  per item and merging meta per record (how this converter ran before its own batch form);
- `baseline_upstream_style`: per item `decompose`, dateutil parsing of every timestamp and a meta copy per record,
  as Tiro 0.13's converter on Karez's fix_timestamp did.
`hop_*` adds the JSON decode of the incoming batch and the encode of the outgoing one (what one converter hop costs).

    .venv/bin/python bench/preprocess.py [--racks 200] [--servers 49] [--batch 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from dateutil import parser as dateutil_parser

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _datahall import scaled_datahall
from _realistic import POLL_INTERVAL_S, iter_dps, variety

from karez.converter.base import ConverterBase
from karez.routing import route
from tiro.mock.service import build_service
from tiro.plugins.karez import TiroPreprocessConverter
from tiro.plugins.karez.mock_collector import _category_of
from tiro_models.records import decompose

TARGET_RECORDS_PER_S = 500_000
SUBJECT = "karez.converter.tiro_preprocess"


def batch_bodies(racks: int, servers: int, batch: int, time_var: float | None) -> list[bytes]:
    """JSON bodies of connector batches: every data point of a scaled datahall, `batch` points per body (with
    `time_var`, each point stamped at its own moment, see scaled_datahall)."""
    with tempfile.TemporaryDirectory(prefix="tiro-bench-preprocess-") as tmp:
        scenario, uses = scaled_datahall(Path(tmp), racks, servers, time_var=time_var)
        service = build_service(scenario, uses, seed=1)
    paths = list(service.listed)
    bodies = []
    for start in range(0, len(paths), batch):
        points, _ = service.batch(paths[start : start + batch])
        items = [{"path": p, "result": dp, "_karez": {"category": _category_of(p)}} for p, dp in points.items()]
        bodies.append(orjson.dumps(items))
    return bodies


def upstream_style(items: list[dict]) -> list[dict]:
    """Per item: decompose, dateutil for every timestamp, a copied meta per record (Tiro 0.13 + fix_timestamp)."""
    out = []
    for payload in items:
        meta = payload.get("_karez") or {}
        for record in decompose(payload["path"], payload["result"]):
            ts = record.get("timestamp")
            record["timestamp"] = dateutil_parser.parse(ts).timestamp() if isinstance(ts, str) else time.time()
            record["_karez"] = dict(meta)
            out.append(record)
    return out


def run_sync(coroutine: Any) -> Any:
    """Run a coroutine that never suspends (the converters' batch paths) without an event loop's overhead."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the coroutine suspended")


def best_seconds(rounds: int, run: Any) -> float:
    """The least disturbed of `rounds` timed calls (the machine is shared)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    """Run the benchmark and print JSON."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--racks", type=int, default=200)
    args.add_argument("--servers", type=int, default=49)
    args.add_argument("--batch", type=int, default=1000, help="items per message (the connector's batch)")
    args.add_argument("--rounds", type=int, default=5)
    args.add_argument("--upstream-batches", type=int, default=3, help="batches for the slow upstream-style baseline")
    opts = args.parse_args()

    bodies = batch_bodies(opts.racks, opts.servers, opts.batch, POLL_INTERVAL_S)
    same_bodies = batch_bodies(opts.racks, opts.servers, opts.batch, None)
    decoded = [orjson.loads(b) for b in bodies]
    n = sum(len(items) for items in decoded)
    converter = TiroPreprocessConverter({"type": "tiro_preprocess", "next": ["influx_line_protocol"]}, nats_addr=None)

    def ours(bodies: list[bytes] = bodies) -> list[Any]:
        return [run_sync(converter.handle_items(orjson.loads(b), SUBJECT)) for b in bodies]

    def per_item() -> list[Any]:  # the default `convert_batch`: `convert` per item, meta merged per record
        convert_each = ConverterBase.convert_batch
        return [
            route(convert_each(converter, orjson.loads(b), SUBJECT), converter.targets, converter.name) for b in bodies
        ]

    ours_first = ours()  # warms the tag and timestamp caches, as the first round of a collector does
    items_out = [item for outputs in ours_first for _, item in outputs]
    reference = [item for outputs in per_item() for _, item in outputs]
    identical = orjson.dumps(items_out) == orjson.dumps(reference)

    decode_s = best_seconds(opts.rounds, lambda: [orjson.loads(b) for b in bodies])
    ours_s = best_seconds(opts.rounds, lambda: ours()) - decode_s
    per_item_s = best_seconds(opts.rounds, lambda: per_item()) - decode_s
    encode_s = best_seconds(opts.rounds, lambda: [orjson.dumps([i for _, i in out]) for out in ours_first])
    sample = decoded[: opts.upstream_batches]
    sample_n = sum(len(items) for items in sample)
    upstream_s = best_seconds(1, lambda: upstream_style([dict(i) for items in sample for i in items]))
    # The mock's own output: nearly every point of a round shares one timestamp, so the timestamp cache hits.
    same_decode_s = best_seconds(opts.rounds, lambda: [orjson.loads(b) for b in same_bodies])
    ours(same_bodies)
    same_s = best_seconds(opts.rounds, lambda: ours(same_bodies)) - same_decode_s

    def rate(count: int, seconds: float) -> int:
        return round(count / seconds) if seconds > 0 else 0

    ours_rate, per_item_rate, upstream_rate = rate(n, ours_s), rate(n, per_item_s), rate(sample_n, upstream_s)
    print(
        json.dumps(
            {
                "benchmark": "preprocess",
                "python": platform.python_version(),
                "records": n,
                "input": f"each point stamped at its own moment in the last {POLL_INTERVAL_S:g} s (mock time_var)",
                "input_variety": variety(iter_dps(decoded)),
                "batch_items": opts.batch,
                "rounds": opts.rounds,
                "ours_records_per_s": ours_rate,
                "baseline_runtime_per_item_records_per_s": per_item_rate,
                "baseline_upstream_style_records_per_s": upstream_rate,
                "speedup_vs_per_item": round(ours_rate / per_item_rate, 1) if per_item_rate else None,
                "speedup_vs_upstream_style": round(ours_rate / upstream_rate, 1) if upstream_rate else None,
                "identical_to_per_item": identical,
                "hop_ours_records_per_s": rate(n, ours_s + decode_s + encode_s),
                "hop_per_item_records_per_s": rate(n, per_item_s + decode_s + encode_s),
                "json_decode_records_per_s": rate(n, decode_s),
                "json_encode_records_per_s": rate(n, encode_s),
                "same_timestamp_input_variety": variety(iter_dps([orjson.loads(b) for b in same_bodies])),
                "same_timestamp_ours_records_per_s": rate(n, same_s),
                "readme_shows": "ours_records_per_s (the realistic input)",
                "target_records_per_s": TARGET_RECORDS_PER_S,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Benchmark: the frame kernels of the chain over one round of a 104,003-point hall, against per-item objects.

Prints one JSON object. The input is the mock server's column answer (`POST /points/batch?form=columns`) of every
data point of a scaled datahall, each point stamped at its own moment (distinct timestamps, spread values, the
series of a real hall), cut into frames of `--batch` rows as the `tiro_mock` connector makes them. Steady state:
each figure is the best of `--rounds` rounds after a first round that fills the per-series caches (tags, line
heads), as every round of a collector after its first. Measured in the same run:
- `preprocess`: `tiro_preprocess` on frames (`tiro.points` → `tiro.records`) vs on the same samples as items;
- `line_protocol`: `influx_line_protocol` on `tiro.records` frames (with the mock's series ids, and without) vs on
  the same records as items;
- `validate_collect`: `tiro_validate` collecting the `tiro.points` frames into its windows, by series id (the
  mock's ids, learned in the first round) and by path, vs the same samples as items (the window judgement on its
  timer is `bench/window.py`'s);
- `wire`: encoding and decoding the records frames as compact frames (msgpack), readable frames (JSON) and items
  (JSON), with bytes per sample.
Rates are records per second of one core; `cpu_us_per_record` is the CPU time per record.

    .venv/bin/python bench/frames.py [--racks 2000] [--servers 49] [--batch 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _datahall import scaled_datahall
from _realistic import POLL_INTERVAL_S

from karez import frames
from karez.converter.extras.influx_line_protocol import Converter as LineProtocol
from karez.frames import COMPACT, ENCODING_HEADER, READABLE
from tiro.frames import COLUMNS, column_frames
from tiro.mock.service import build_service
from tiro.plugins.karez import TiroPreprocessConverter
from tiro.plugins.karez.mock_collector import _category_of
from tiro.plugins.karez.windows import WindowedValidator
from tiro_models.validation.checks import parse_times

TARGET_RECORDS_PER_S = 2_000_000  # issue: preprocess and line protocol on frames
RETENTION_S = 10.0  # the shipped example's tiro_validate windows
VALIDATE = ("frames", "frames_without_series_ids", "items_same_run")
LINE_PROTOCOL = {"type": "influx_line_protocol", "measurement": "tiro_telemetry", "field_name": "field"}


def round_frames(racks: int, servers: int, batch: int) -> tuple[list[list[dict[str, Any]]], int]:
    """Two rounds of the hall as `tiro.points` frames (`batch` rows each, distinct timestamps); and the points."""
    with tempfile.TemporaryDirectory(prefix="tiro-bench-frames-") as tmp:
        scenario, uses = scaled_datahall(Path(tmp), racks, servers, time_var=POLL_INTERVAL_S)
        service = build_service(scenario, uses, seed=1)
    paths = list(service.listed)
    rounds = []
    for _ in range(2):
        framed = []
        for start in range(0, len(paths), batch):
            answer = service.batch_columns(paths[start : start + batch])
            columns = answer["columns"]
            framed += column_frames(columns, list(map(_category_of, columns["path"])), answer["model"])
        rounds.append(framed)
    return rounds, len(paths)


def collect_points(validator: WindowedValidator, framed: list[dict[str, Any]], arrival: float, by_series: bool) -> None:
    """`tiro_validate`'s collection of `tiro.points` frames into its windows (with their series ids or without)."""
    for frame in framed:
        columns = frame[frames.COLUMNS_KEY]
        paths, values, stamps, units = (columns[name] for name in COLUMNS)
        series = frames.series_ids(frame) if by_series else None
        validator.collect_columns(paths, values, stamps, units, arrival, series)


def _never_judged(flat: dict[str, Any], start: Any, end: Any) -> Any:
    raise AssertionError("the bench collects; bench/window.py measures judging a window")


def without_ids(frame: dict[str, Any]) -> dict[str, Any]:
    """A frame without its series ids (rows keyed by path only, as from a source without a model)."""
    columns = {name: column for name, column in frame[frames.COLUMNS_KEY].items() if name != frames.SERIES_COLUMN}
    return frames.make_frame(frame[frames.FRAME_KEY]["schema"], columns, frame[frames.META_KEY])


def best(rounds: int, run: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of `rounds` runs."""
    runs = []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    return min(runs)


def figures(records: int, wall_cpu: tuple[float, float]) -> dict[str, float]:
    wall, cpu = wall_cpu
    return {"records_per_s": round(records / wall), "cpu_us_per_record": round(cpu / records * 1e6, 3)}


def main() -> None:
    """Run the benchmark and print JSON."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--racks", type=int, default=2000)
    args.add_argument("--servers", type=int, default=49)
    args.add_argument("--batch", type=int, default=5000, help="rows per frame (the dispatcher's task size)")
    args.add_argument("--rounds", type=int, default=5)
    opts = args.parse_args()

    (first, steady), n = round_frames(opts.racks, opts.servers, opts.batch)
    items = frames.expand(steady)
    framed_pre = TiroPreprocessConverter({"type": "tiro_preprocess", "frames": True}, nats_addr=None)
    plain_pre = TiroPreprocessConverter({"type": "tiro_preprocess"}, nats_addr=None)
    framed_pre.convert_batch(first, "s")  # the first round learns every path's tags
    plain_pre.convert_batch(frames.expand(first), "s")
    records_frames = framed_pre.convert_batch(steady, "s")
    records = frames.expand(records_frames)
    by_path = [without_ids(frame) for frame in records_frames]
    assert len(records) == n, "every sample is converted"

    framed_lp = LineProtocol({**LINE_PROTOCOL, "frames": True}, nats_addr=None)
    plain_lp = LineProtocol(LINE_PROTOCOL, nats_addr=None)
    framed_lp.convert_batch(framed_pre.convert_batch(first, "s"), "s")  # every series' line head, once
    framed_lp.convert_batch([without_ids(frame) for frame in framed_pre.convert_batch(first, "s")], "s")
    plain_lp.convert_batch(copy.deepcopy(records), "s")
    lines = framed_lp.convert_batch(records_frames, "s")
    assert sum(block["_as_is"].count("\n") + 1 for block in lines) == n, "a line per record"

    record_copies = [copy.deepcopy(records) for _ in range(opts.rounds)]  # the per-item encoder edits its items

    def plain_lines() -> None:
        plain_lp.convert_batch(record_copies.pop(), "s")

    pairs = [(item["path"], item["result"]) for item in items]
    arrival = max(parse_times([dp["timestamp"] for _, dp in pairs])) + 0.5  # type: ignore[type-var]
    validators = {key: WindowedValidator(_never_judged, RETENTION_S, started_at=arrival - 60) for key in VALIDATE}
    for key, validator in validators.items():  # the first round: every window opened, the series ids learned
        collect_points(validator, first, arrival, by_series=key == "frames")
    compact = frames.encode_frames(records_frames, COMPACT)
    readable = frames.encode_frames(records_frames, READABLE)
    plain = orjson.dumps(records)
    result = {
        "benchmark": "frames",
        "python": platform.python_version(),
        "data_points": n,
        "rows_per_frame": opts.batch,
        "input_variety": {
            "distinct_paths": len({r["path"] for r in items}),
            "distinct_timestamps": len({r["result"]["timestamp"] for r in items}),
            "distinct_values": len({repr(r["result"]["value"]) for r in items}),
        },
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "preprocess": {
            "frames": figures(n, best(opts.rounds, lambda: framed_pre.convert_batch(steady, "s"))),
            "items_same_run": figures(n, best(opts.rounds, lambda: plain_pre.convert_batch(items, "s"))),
        },
        "line_protocol": {
            "frames": figures(n, best(opts.rounds, lambda: framed_lp.convert_batch(records_frames, "s"))),
            "frames_without_series_ids": figures(n, best(opts.rounds, lambda: framed_lp.convert_batch(by_path, "s"))),
            "items_same_run": figures(n, best(opts.rounds, plain_lines)),
        },
        "validate_collect": {
            "frames": figures(
                n, best(opts.rounds, lambda: collect_points(validators["frames"], steady, arrival, by_series=True))
            ),
            "frames_without_series_ids": figures(
                n,
                best(
                    opts.rounds,
                    lambda: collect_points(validators["frames_without_series_ids"], steady, arrival, by_series=False),
                ),
            ),
            "items_same_run": figures(
                n, best(opts.rounds, lambda: validators["items_same_run"].collect_many(pairs, arrival))
            ),
        },
        "wire": {
            "compact_frames": {
                "bytes_per_record": round(len(compact) / n, 1),
                "encode": figures(n, best(opts.rounds, lambda: frames.encode_frames(records_frames, COMPACT))),
                "decode": figures(
                    n, best(opts.rounds, lambda: frames.decode_body(compact, {ENCODING_HEADER: COMPACT}))
                ),
            },
            "readable_frames": {
                "bytes_per_record": round(len(readable) / n, 1),
                "encode": figures(n, best(opts.rounds, lambda: frames.encode_frames(records_frames, READABLE))),
                "decode": figures(
                    n, best(opts.rounds, lambda: frames.decode_body(readable, {ENCODING_HEADER: READABLE}))
                ),
            },
            "items_json_same_run": {
                "bytes_per_record": round(len(plain) / n, 1),
                "encode": figures(n, best(opts.rounds, lambda: orjson.dumps(records))),
                "decode": figures(n, best(opts.rounds, lambda: orjson.loads(plain))),
            },
        },
    }
    met = [result[k]["frames"]["records_per_s"] >= TARGET_RECORDS_PER_S for k in ("preprocess", "line_protocol")]
    result["target_met"] = all(met)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: closing a validation window of the `tiro_validate` aggregator (collect, then validate on the timer).

Prints one JSON object. The model is the datahall example scaled to `--racks` × `--servers` (104,003 points by
default), validated as the shipped config does (lenient, `retention: 10`). Every window gets fresh DP objects with
fresh values, each point stamped at its own moment of that window (as devices sample). Only `close()` is timed, the
moment the aggregator's event loop is blocked; collecting is the converters' business and not measured here.
- `first_window`: the first close after start (the nested tree is built from scratch);
- `steady`: later windows with the same paths (the production case: every round polls the same series);
  this is the figure the README shows;
- `changed_3pct`: windows in which 3% of the paths are absent and 3% are new ones the model does not know;
- `baseline_from_scratch`: the same steady windows validated by `validate()` nesting from scratch with the garbage
  collector running (how a close worked before SnapshotNester and the collector pause).

    .venv/bin/python bench/window.py [--racks 2000] [--servers 49] [--windows 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _datahall import scaled_datahall
from _realistic import iter_dps, restamp, variety

from tiro.plugins.karez.windows import WindowedValidator, model_check
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.validate import validate

RETENTION_S = 10.0  # the shipped example's tiro_validate retention


def window_items(mocker: Mocker, start: float, seed: int) -> dict[str, Any]:
    """A fresh flat window: new values and DP objects, each point stamped at its own moment inside the window."""
    flat = mocker.flat(now=datetime.fromtimestamp(start + RETENTION_S, UTC))
    restamp(flat.values(), now=start + RETENTION_S - 0.001, interval=RETENTION_S - 0.002, seed=seed)
    return flat


def changed(flat: dict[str, Any], share: float, seed: int) -> dict[str, Any]:
    """`flat` without a `share` of its paths and with as many new (unknown) ones."""
    rng = random.Random(seed)
    paths = list(flat)
    dropped = set(rng.sample(paths, int(len(paths) * share)))
    out = {p: dp for p, dp in flat.items() if p not in dropped}
    for i, path in enumerate(sorted(dropped)):
        out[f"{path.rpartition('.')[0]}.Extra{i}"] = flat[path]
    return out


def timed(fn: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--racks", type=int, default=2000)
    parser.add_argument("--servers", type=int, default=49)
    parser.add_argument("--windows", type=int, default=5, help="windows per measured case")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tiro-bench-window-") as tmp:
        scenario, uses = scaled_datahall(Path(tmp), args.racks, args.servers)
        model = load_model(scenario, uses)
    mocker = Mocker(instantiate(model, seed=1), seed=1)
    start = (time.time() // RETENTION_S) * RETENTION_S
    validator = WindowedValidator(model_check(model), RETENTION_S, started_at=start)

    def close(flat: dict[str, Any]) -> tuple[float, float, Any]:
        validator.collector.collect_many(flat.items())
        return timed(validator.close)

    cases: dict[str, list[tuple[float, float]]] = {"first_window": [], "steady": [], "changed_3pct": []}
    variety_of_window: dict[str, int] = {}
    for w in range(1 + 2 * args.windows):
        flat = window_items(mocker, validator.start, seed=w)
        case = "first_window" if w == 0 else "steady" if w <= args.windows else "changed_3pct"
        if case == "changed_3pct":
            flat = changed(flat, 0.03, seed=w)
        if w == 1:
            variety_of_window = variety(iter_dps(flat))
        wall, cpu, report = close(flat)
        if case != "changed_3pct":
            assert report.result.valid and report.result.completeness == 1, report.to_dict()["errors"][:3]
        cases[case].append((wall, cpu))

    baseline: list[tuple[float, float]] = []
    for w in range(args.windows):
        flat = window_items(mocker, start, seed=100 + w)
        moment = datetime.fromtimestamp(start + RETENTION_S, UTC)
        gc.collect()
        wall, cpu, result = timed(lambda f=flat, m=moment: validate(model, f, now=m))
        assert result.valid
        baseline.append((wall, cpu))

    def summary(samples: list[tuple[float, float]]) -> dict[str, Any]:
        walls = sorted(s[0] for s in samples)
        return {
            "windows": len(samples),
            "close_seconds_best": round(walls[0], 3),
            "close_seconds_median": round(walls[len(walls) // 2], 3),
            "close_seconds_worst": round(walls[-1], 3),
            "cpu_us_per_point": round(min(s[1] for s in samples) / variety_of_window["points"] * 1e6, 3),
        }

    print(
        json.dumps(
            {
                "benchmark": "window",
                "python": platform.python_version(),
                "points": variety_of_window["points"],
                "input_variety": variety_of_window,
                "retention_s": RETENTION_S,
                "mode": "lenient (the shipped tiro_validate config)",
                "readme_shows": "steady",
                **{case: summary(samples) for case, samples in cases.items()},
                "baseline_from_scratch": summary(baseline),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

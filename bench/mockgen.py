"""Benchmark: mock value generation in points/s (batch, snapshot, flat) against an upstream-style Faker baseline.

The library has no `time_var`, so a round's points share one timestamp (what the mock gives for such a library; the
target is about it); `time_var_snapshot_points_per_s` is the same model with every point stamped at its own moment.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

from faker import Faker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _realistic import POLL_INTERVAL_S, iter_dps, variety
from _synthetic import synthetic_model

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker

TARGET_POINTS_PER_S = 1_000_000


def _rate(fn, points: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return points / best


def upstream_style(paths: list[str], specs: dict) -> list[dict]:
    """Upstream per point: a Faker pyfloat (or pyint, pybool, pystr) and a past_datetime, one call chain each."""
    faker = Faker()
    out = []
    for path in paths:
        d = specs[path].definition
        if d.kind == "float":
            value = faker.pyfloat(right_digits=2, min_value=d.ge, max_value=d.le)
        elif d.kind == "int":
            value = faker.pyint(d.ge, d.le)
        elif d.kind == "bool":
            value = faker.pybool()
        else:
            value = faker.pystr()
        timestamp = faker.past_datetime(-timedelta(seconds=1)).isoformat()
        dp = {"value": value, "timestamp": timestamp}
        if d.unit is not None:
            dp["unit"] = d.unit
        out.append(dp)
    return out


def python_floor_rate(n: int) -> float:
    """Points/s of merely creating n DP dicts in a list comprehension: no generator can beat this in pure Python."""
    stamp = "2024-01-01T00:00:00+00:00"
    return _rate(lambda: [{"value": 1.0, "timestamp": stamp, "unit": "W"} for _ in range(n)], n)


def main() -> None:
    """Generate values for ~200,000 points with every API and with the baseline, print JSON."""
    instances = instantiate(synthetic_model(4, 50, 100, 10), seed=1)
    mocker = Mocker(instances, seed=1)
    paths = mocker.data_point_paths()
    n = len(paths)
    mocker.snapshot()  # warm the per-spec generators and the snapshot plan
    cold = Mocker(instances, seed=2)
    started = time.perf_counter()
    cold.values(paths)  # a batch never seen before: grouping by spec included
    values_first_rate = n / (time.perf_counter() - started)
    values_rate = _rate(lambda: mocker.values(paths), n)  # a poller repeating its batch (the grouping is reused)
    snapshot_rate = _rate(lambda: mocker.snapshot(), n)
    flat_rate = _rate(lambda: mocker.flat(), n)
    # A library that gives every point a time_var: each point gets its own timestamp (one datetime per point).
    stamped = Mocker(instantiate(synthetic_model(4, 50, 100, 10, time_var=POLL_INTERVAL_S), seed=1), seed=1)
    stamped.snapshot()
    stamped_rate = _rate(lambda: stamped.snapshot(), n)
    sample = paths[:: max(1, n // 20_000)]  # the baseline is slow: time it on a 20,000-point sample
    baseline_rate = _rate(lambda: upstream_style(sample, instances.points), len(sample), repeat=1)
    out = {
        "points": n,
        "values_first_batch_points_per_s": round(values_first_rate),
        "values_points_per_s": round(values_rate),
        "snapshot_points_per_s": round(snapshot_rate),
        "flat_points_per_s": round(flat_rate),
        "input_variety": variety(iter_dps(mocker.snapshot())),
        "time_var_snapshot_points_per_s": round(stamped_rate),
        "time_var_input_variety": variety(iter_dps(stamped.snapshot())),
        "baseline_points": len(sample),
        "baseline_points_per_s": round(baseline_rate),
        "speedup_values_vs_baseline": round(values_rate / baseline_rate, 1),
        "python_floor_dp_dicts_per_s": round(python_floor_rate(n)),
        "target_points_per_s": TARGET_POINTS_PER_S,
    }
    out["target_met"] = min(values_rate, snapshot_rate) >= TARGET_POINTS_PER_S
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

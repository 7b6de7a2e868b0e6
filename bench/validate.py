"""Benchmark: validate a ≥100,000-point mock snapshot with tiro_models and with an upstream-style pydantic v2 model.

The measured snapshot is realistic: each point carries its own timestamp (sampled over the last poll interval) and
values spread over each point's range, so no per-timestamp memo helps. The same values under one shared timestamp
(mock output without `time_var`) are measured too, in the `same_timestamp_*` fields. Targets apply to the first;
they guard the timestamp column kernel (tiro_models/validation/time_column.py).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _realistic import POLL_INTERVAL_S, iter_dps, restamp, variety
from _synthetic import point_count, synthetic_model

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.spec import Model, PointSpec, SlotSpec
from tiro_models.validate import compiled_checks, validate

TARGET_POINTS_PER_S = 1_000_000
TARGET_SPEEDUP = 10


def _value_type(spec: PointSpec) -> Any:
    d = spec.definition
    base = {"float": float, "int": int, "bool": bool, "str": str}.get(d.kind, Any)
    if d.kind in ("float", "int"):
        return Annotated[base, Field(ge=d.ge, le=d.le, gt=d.gt, lt=d.lt)]
    return base


def upstream_style_model(model: Model) -> type[BaseModel]:
    """Nested pydantic v2 models built the way upstream does (tiro §4.1): dict[str, Entity] per slot."""

    def entity(slot: SlotSpec) -> type[BaseModel]:
        fields: dict[str, Any] = {}
        for category in ("Telemetry", "Attribute"):
            points = {name: p for name, p in slot.points.items() if p.category == category}
            if not points:
                continue
            dp_fields = {}
            for name, p in points.items():
                dp = create_model(
                    f"Scenario_{slot.type_path}_{name}".replace(".", "_"),
                    value=(_value_type(p), ...),
                    timestamp=(datetime, ...),
                )
                dp_fields[name] = (dp, ...)
            category_model = create_model(f"Scenario_{slot.type_path}_{category}".replace(".", "_"), **dp_fields)
            fields[category] = (category_model, ...)
        for name, child in slot.children.items():
            fields[name] = (dict[str, entity(child)], ...)
        return create_model(f"Scenario_{slot.type_path}".replace(".", "_"), **fields)

    return create_model("Scenario", **{name: (dict[str, entity(s)], ...) for name, s in model.roots.items()})


def _best(fn, repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of `repeat` calls (the machine is shared: the least disturbed)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def snapshots(instances: Any, now: float) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(realistic nested, realistic flat, same-timestamp nested) snapshots of the same mock values."""
    moment = datetime.fromtimestamp(now, UTC)
    realistic = Mocker(instances, seed=1).snapshot(now=moment)
    restamp(iter_dps(realistic), now=now)
    flat = Mocker(instances, seed=1).flat(now=moment)
    restamp(flat.values(), now=now)
    same = Mocker(instances, seed=1).snapshot(now=moment)  # what the mock gives without time_var: one timestamp
    return realistic, flat, same


def main() -> None:
    """Build, mock, validate with both, print JSON."""
    shape = (4, 50, 50, 10)
    model = synthetic_model(*shape)
    instances = instantiate(model, seed=1)
    now = time.time()
    realistic, flat, same = snapshots(instances, now)
    points = point_count(*shape)
    moment = datetime.fromtimestamp(now, UTC)
    compiled_checks(model)  # compiled once per model, like the long-running aggregator does

    for snapshot in (realistic, flat, same):
        result = validate(model, snapshot, strict=True, now=moment, max_age=60)
        assert result.valid and result.counts["received"] == points, result.to_dict()["errors"][:3]
    ours, ours_cpu = _best(lambda: validate(model, realistic), 5)
    strict, _ = _best(lambda: validate(model, realistic, strict=True, now=moment, max_age=60), 3)
    flat_s, _ = _best(lambda: validate(model, flat), 3)
    same_s, _ = _best(lambda: validate(model, same), 5)

    baseline_model = upstream_style_model(model)
    baseline_model.model_validate(realistic)
    baseline, baseline_cpu = _best(lambda: baseline_model.model_validate(realistic), 3)
    same_baseline, _ = _best(lambda: baseline_model.model_validate(same), 3)

    out = {
        "points": points,
        "input_variety": variety(iter_dps(realistic)),
        "input": f"each point stamped at its own moment in the last {POLL_INTERVAL_S:g} s (ISO 8601, microseconds)",
        "ours_seconds": round(ours, 4),
        "ours_points_per_s": round(points / ours),
        "ours_cpu_us_per_point": round(ours_cpu / points * 1e6, 3),
        "ours_strict_points_per_s": round(points / strict),
        "ours_flat_input_points_per_s": round(points / flat_s),
        "baseline_seconds": round(baseline, 4),
        "baseline_points_per_s": round(points / baseline),
        "baseline_cpu_us_per_point": round(baseline_cpu / points * 1e6, 3),
        "speedup": round(baseline / ours, 2),
        "same_timestamp_input_variety": variety(iter_dps(same)),
        "same_timestamp_ours_points_per_s": round(points / same_s),
        "same_timestamp_baseline_points_per_s": round(points / same_baseline),
        "same_timestamp_speedup": round(same_baseline / same_s, 2),
        "targets": {"points_per_s": TARGET_POINTS_PER_S, "speedup": TARGET_SPEEDUP, "on": "the realistic input"},
    }
    out["targets_met"] = out["ours_points_per_s"] >= TARGET_POINTS_PER_S and out["speedup"] >= TARGET_SPEEDUP
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

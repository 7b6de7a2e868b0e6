"""Benchmark: validate a ≥100,000-point mock snapshot with tiro_models and with an upstream-style pydantic v2 model."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    """Build, mock, validate with both, print JSON."""
    shape = (4, 50, 50, 10)
    model = synthetic_model(*shape)
    instances = instantiate(model, seed=1)
    snapshot = Mocker(instances, seed=1).snapshot()
    points = point_count(*shape)
    compiled_checks(model)  # compiled once per model, like the long-running aggregator does

    result = validate(model, snapshot)
    assert result.valid and result.counts["received"] == points, result.to_dict()["errors"][:3]
    ours = _best(lambda: validate(model, snapshot), 5)
    strict = _best(lambda: validate(model, snapshot, strict=True, max_age=60), 3)

    flat = Mocker(instances, seed=1).flat()
    flat_s = _best(lambda: validate(model, flat), 3)

    baseline_model = upstream_style_model(model)
    baseline_model.model_validate(snapshot)
    baseline = _best(lambda: baseline_model.model_validate(snapshot), 3)

    out = {
        "points": points,
        "ours_seconds": round(ours, 4),
        "ours_points_per_s": round(points / ours),
        "ours_strict_points_per_s": round(points / strict),
        "ours_flat_input_points_per_s": round(points / flat_s),
        "baseline_seconds": round(baseline, 4),
        "baseline_points_per_s": round(points / baseline),
        "speedup": round(baseline / ours, 2),
        "targets": {"points_per_s": TARGET_POINTS_PER_S, "speedup": TARGET_SPEEDUP},
    }
    out["targets_met"] = out["ours_points_per_s"] >= TARGET_POINTS_PER_S and out["speedup"] >= TARGET_SPEEDUP
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""Deliberately bad values, so that a faulty mock can demonstrate what validation catches."""

from __future__ import annotations

import random
from typing import Any

from tiro_models.spec import PointSpec

WITHHELD = "withheld"


class FaultInjector:
    """Corrupts a given share of served data points: out of range, wrong type, or withheld (missing)."""

    def __init__(self, rate: float, seed: int | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"--faulty rate must be between 0 and 1, got {rate}")
        self.rate = rate
        self._rng = random.Random(seed)

    def apply(self, spec: PointSpec, dp: dict[str, Any]) -> dict[str, Any] | str:
        """Return `dp` unchanged, a corrupted copy, or WITHHELD when the point should be missing."""
        if self.rate == 0.0 or self._rng.random() >= self.rate:
            return dp
        fault = self._rng.choice(("range", "type", "missing"))
        if fault == "missing":
            return WITHHELD
        bad = dict(dp)
        out_of_range = _out_of_range(spec) if fault == "range" else None
        if out_of_range is not None:
            bad["value"] = out_of_range
        else:
            bad["value"] = "not-a-number" if spec.definition.kind != "str" else {"unexpected": "object"}
        return bad


def _out_of_range(spec: PointSpec) -> float | None:
    d = spec.definition
    if d.kind not in ("float", "int"):
        return None
    upper = d.le if d.le is not None else d.lt
    lower = d.ge if d.ge is not None else d.gt
    if upper is not None:
        return upper + abs(upper) + 1000
    if lower is not None:
        return lower - abs(lower) - 1000
    return None

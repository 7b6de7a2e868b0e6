"""Validation of a snapshot against a compiled model: upstream checks (lenient) plus strict checks, fast.

Required-ness: a point is required unless it has a default. A category is required when it holds a required point.
A child slot is required when its `$number` minimum is at least 1 and its subtree holds a required point (this is the
upstream `require_all_children=False` rule; it also fixes upstream's failure on `$number: 0` slots).

Counts: `expected` is the number of required points of every received asset plus, for every missing required slot
(and, in strict mode, for every asset short of the `$number` minimum), the `$number` minimum times the required points
of the slot's subtree taken at their `$number` minimums. `received` counts expected points present, `invalid` those
present but failing a check, `missing` = expected − received, `unknown` counts unknown data points and unknown asset
subtrees (reported as errors in strict mode only). `completeness` = (received − invalid) / expected (1 when nothing
is expected).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tiro_models.errors import SnapshotError
from tiro_models.spec import PATH_SEP, Model

from .validation.checks import CompiledChecks, compiled_checks
from .validation.collector import Collector
from .validation.nesting import SnapshotNester, nest_flat
from .validation.result import ValidationError, ValidationResult
from .validation.walk import Run


def is_flat(snapshot: Mapping[str, Any]) -> bool:
    """True when `snapshot` is in flat form `{dp path: DP}` (its keys are dotted paths)."""
    return any(isinstance(key, str) and PATH_SEP in key for key in snapshot)


def validate(
    model: Model,
    snapshot: Mapping[str, Any],
    *,
    strict: bool = False,
    now: datetime | None = None,
    max_age: float | None = None,
    window: tuple[datetime, datetime] | None = None,
    nester: SnapshotNester | None = None,
) -> ValidationResult:
    """Validate a nested or flat snapshot against `model` (lenient = upstream checks; strict adds more).

    `nester` nests flat input reusing the tree of its previous window (see SnapshotNester)."""
    if not isinstance(snapshot, Mapping):
        raise SnapshotError(f"a snapshot must be a JSON object, not {type(snapshot).__name__}")
    moment = _aware(now) if now is not None else datetime.now(UTC)
    if window is not None:
        window = (_aware(window[0]), _aware(window[1]))
    run = Run(strict, moment, max_age, window)
    bad_paths: list[str] = []
    if is_flat(snapshot):
        snapshot, bad_paths = nest_flat(snapshot) if nester is None else nester.nest(snapshot)
        run.flat_input = True
    checks = compiled_checks(model)
    run.slots(checks.roots, [(snapshot, ())])
    if any(key not in model.roots for key in snapshot):
        run.unknown_keys(None, {k: v for k, v in snapshot.items() if k not in model.roots}, ())
    for path in bad_paths:
        run.unknown += 1
        if strict:
            run.error((path,), "unknown_point", f"{path!r} is not a data-point path (<Type>.<id>…<Category>.<Name>)")
    counts = {
        "expected": run.expected,
        "received": run.received,
        "missing": max(run.expected - run.received, 0),
        "invalid": run.invalid,
        "unknown": run.unknown,
    }
    start, end = window if window is not None else (moment, moment)
    return ValidationResult(start=start, end=end, errors=run.errors, counts=counts, strict=strict)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


__all__ = [
    "Collector",
    "CompiledChecks",
    "SnapshotNester",
    "ValidationError",
    "ValidationResult",
    "compiled_checks",
    "is_flat",
    "nest_flat",
    "validate",
]

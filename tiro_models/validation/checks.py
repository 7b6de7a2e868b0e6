"""Value checks compiled once per model: per point a fast check and a full explaining check, per slot a plan."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from tiro_models.spec import CATEGORIES, Model, PointSpec, SlotSpec
from tiro_models.validation.time_column import aware_iso_seconds

from .result import NO_VALUE as NO_VALUE  # re-exported: the walk reports errors with the checks' markers

MISSING: Any = object()  # a key that is absent (None is a value)
DP_SHAPE = "an object {value, timestamp}"  # what a data point must be, for error reports
_NUMBERS = (int, float)
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})

# (type, message, context) of a failed check; None means the value is acceptable.
Failure = tuple[str, str, dict[str, Any] | None] | None


def _limits_failure(x: float, ge: Any, le: Any, gt: Any, lt: Any) -> Failure:
    if ge is not None and not x >= ge:
        return "value_error.number.not_ge", f"ensure this value is greater than or equal to {ge}", {"limit_value": ge}
    if gt is not None and not x > gt:
        return "value_error.number.not_gt", f"ensure this value is greater than {gt}", {"limit_value": gt}
    if le is not None and not x <= le:
        return "value_error.number.not_le", f"ensure this value is less than or equal to {le}", {"limit_value": le}
    if lt is not None and not x < lt:
        return "value_error.number.not_lt", f"ensure this value is less than {lt}", {"limit_value": lt}
    return None


def _value_checks(spec: PointSpec) -> tuple[Callable[[Any], bool], Callable[[Any, bool], Failure]]:
    """(fast, full) checks of one point's value: fast says "certainly valid"; full explains or accepts by coercion."""
    d = spec.definition
    ge, le, gt, lt = d.ge, d.le, d.gt, d.lt
    kind = d.kind
    lo = -math.inf if ge is None else ge
    hi = math.inf if le is None else le
    plain_bounds = gt is None and lt is None

    if kind in ("float", "int"):
        is_float = kind == "float"
        fast_classes = (float, int) if is_float else (int,)
        if plain_bounds:
            if fast_classes == (int,):

                def fast(v: Any) -> bool:
                    return v.__class__ is int and lo <= v <= hi
            else:

                def fast(v: Any) -> bool:
                    return (v.__class__ is float or v.__class__ is int) and lo <= v <= hi
        else:

            def fast(v: Any) -> bool:
                return v.__class__ in fast_classes and _limits_failure(v, ge, le, gt, lt) is None

        type_failure: Failure = (
            ("type_error.float", "value is not a valid float", None)
            if is_float
            else ("type_error.integer", "value is not a valid integer", None)
        )

        def full(v: Any, strict: bool) -> Failure:
            if isinstance(v, bool) or v is MISSING:
                return type_failure
            if isinstance(v, int) or (is_float and isinstance(v, float)):
                x = v
            elif not strict and isinstance(v, float) and v.is_integer():
                x = v  # lax mode: an integral float is an int
            elif not strict and isinstance(v, str):
                try:
                    x = float(v) if is_float else int(v.strip())
                except ValueError:
                    return type_failure
            else:
                return type_failure
            return _limits_failure(x, ge, le, gt, lt)

        return fast, full

    if kind == "bool":

        def full_bool(v: Any, strict: bool) -> Failure:
            if v.__class__ is bool:
                return None
            if not strict and (
                (v.__class__ is int and v in (0, 1)) or (isinstance(v, str) and v.lower() in _TRUE | _FALSE)
            ):
                return None
            return "type_error.bool", "value could not be parsed to a boolean", None

        return (lambda v: v.__class__ is bool), full_bool

    if kind == "str":

        def full_str(v: Any, strict: bool) -> Failure:
            if isinstance(v, str) or (not strict and isinstance(v, _NUMBERS) and not isinstance(v, bool)):
                return None
            return "type_error.str", "str type expected", None

        return (lambda v: v.__class__ is str), full_str

    if kind == "enum":
        choices = tuple(d.choices or ())
        try:
            allowed: frozenset[Any] | tuple[Any, ...] = frozenset(choices)
        except TypeError:
            allowed = choices
        permitted = ", ".join(repr(c) for c in choices)

        def fast_enum(v: Any) -> bool:
            try:
                return v in allowed and not (v.__class__ is bool and True not in choices and False not in choices)
            except TypeError:
                return False

        def full_enum(v: Any, strict: bool) -> Failure:
            if fast_enum(v):
                return None
            msg = f"value is not a valid enumeration member; permitted: {permitted}"
            return "type_error.enum", msg, {"enum_values": list(choices)}

        return fast_enum, full_enum

    return _annotation_checks(d.py_type)


def _annotation_checks(annotation: Any) -> tuple[Callable[[Any], bool], Callable[[Any, bool], Failure]]:
    """Checks for kind "any": the original pydantic annotation through a TypeAdapter (no annotation: anything)."""
    if annotation is None:
        return (lambda v: v is not MISSING), (lambda v, strict: None if v is not MISSING else MISSING_VALUE)
    from pydantic import TypeAdapter
    from pydantic import ValidationError as PydanticError

    try:
        adapter = TypeAdapter(annotation)
    except Exception:  # an annotation pydantic cannot handle: accept any present value rather than fail every check
        return _annotation_checks(None)

    def full(v: Any, strict: bool) -> Failure:
        if v is MISSING:
            return MISSING_VALUE
        try:
            adapter.validate_python(v, strict=strict)
        except PydanticError as exc:
            first = exc.errors()[0]
            raw_ctx = first.get("ctx") or {}
            ctx = {key: val if isinstance(val, str | int | float | bool) else str(val) for key, val in raw_ctx.items()}
            return f"pydantic.{first['type']}", first["msg"], ctx or None
        return None

    return (lambda v: full(v, True) is None), full


MISSING_VALUE: Failure = ("missing", "field required", None)


def allowed_text(spec: PointSpec) -> str:
    """What a point accepts, in words for reports: `float in [0, 1000] kW`, `one of 'on', 'off'`, `bool`…"""
    d = spec.definition
    if d.kind == "enum":
        return "one of " + ", ".join(repr(c) for c in d.choices or ())
    if d.kind == "any":
        return "any value" if d.py_type is None else getattr(d.py_type, "__name__", str(d.py_type))
    text = d.kind
    if d.kind in ("float", "int") and any(bound is not None for bound in (d.ge, d.gt, d.le, d.lt)):
        low = f"[{d.ge:g}" if d.ge is not None else f"({d.gt:g}" if d.gt is not None else "(-inf"
        high = f"{d.le:g}]" if d.le is not None else f"{d.lt:g})" if d.lt is not None else "inf)"
        text += f" in {low}, {high}"
    return f"{text} {d.unit}" if d.unit else text


def parse_time(ts: Any) -> float | None:
    """Epoch seconds of an ISO 8601 string (naive means UTC) or an epoch number (ms above 2e10); None if invalid."""
    if isinstance(ts, str):
        try:
            moment = datetime.fromisoformat(ts)
        except ValueError:
            try:
                from dateutil.parser import isoparse

                moment = isoparse(ts)
            except (ValueError, OverflowError):
                return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(ts, _NUMBERS) and not isinstance(ts, bool) and math.isfinite(ts):
        return ts / 1000 if abs(ts) > 2e10 else float(ts)
    return None


def parse_times(stamps: list[Any]) -> list[float | None]:
    """`parse_time` of each timestamp; a column of aware ISO 8601 strings (devices' own, distinct) in one pass."""
    seconds = aware_iso_seconds(stamps)
    return list(map(parse_time, stamps)) if seconds is None else cast(list[float | None], seconds)


# ---------------------------------------------------------------------------------------------- compiled model
class PointCheck:
    """The checks of one point: fast (one value), full (explains a failure), column (many values at once), and what
    it allows in words (for error reports)."""

    __slots__ = ("allowed", "column", "fast", "full", "name", "required")

    def __init__(self, spec: PointSpec) -> None:
        self.name = spec.name
        self.required = not spec.has_default
        self.fast, self.full = _value_checks(spec)
        self.column = _column_check(spec, self.fast)
        self.allowed = allowed_text(spec)


_FLOAT_TYPES = frozenset({float, int})
_INT_TYPES = frozenset({int})


def _column_check(spec: PointSpec, fast: Callable[[Any], bool]) -> Callable[[list[Any]], bool]:
    """A check of a whole column of values that is True only if every value certainly passes `fast`."""
    d = spec.definition
    if d.kind in ("float", "int") and d.gt is None and d.lt is None:
        allowed = _FLOAT_TYPES if d.kind == "float" else _INT_TYPES
        lo = -math.inf if d.ge is None else d.ge
        hi = math.inf if d.le is None else d.le
        bounded = d.ge is not None or d.le is not None

        def numbers(values: list[Any]) -> bool:
            if not values:
                return True
            if not allowed.issuperset(set(map(type, values))):
                return False
            total = sum(values)
            # A NaN makes min/max unreliable but always makes the sum NaN; fast() rejects NaN when bounded.
            if total != total and bounded:
                return False
            return lo <= min(values) and max(values) <= hi

        return numbers
    if d.kind == "bool":
        return lambda values: set(map(type, values)) <= {bool}
    if d.kind == "str":
        return lambda values: set(map(type, values)) <= {str}
    return lambda values: all(map(fast, values))


class SlotCheck:
    """Everything validation needs about one slot, computed once per model."""

    __slots__ = (
        "categories",
        "children",
        "expected_min",
        "ids",
        "known",
        "name",
        "number",
        "own_required",
        "required",
        "type_path",
    )

    def __init__(self, slot: SlotSpec) -> None:
        self.name = slot.name
        self.type_path = slot.type_path
        self.number = slot.number
        self.ids = frozenset(slot.ids) if slot.ids is not None else None
        by_category: dict[str, list[tuple[str, Callable, Callable, bool, Callable, str]]] = {}
        for spec in slot.points.values():
            check = PointCheck(spec)
            entry = (check.name, check.fast, check.full, check.required, check.column, check.allowed)
            by_category.setdefault(spec.category, []).append(entry)
        # (category, required?, number of required points, point checks)
        self.categories = [
            (category, any(p[3] for p in points), sum(p[3] for p in points), points)
            for category, points in by_category.items()
        ]
        self.own_required = sum(c[2] for c in self.categories)
        known: dict[str, set[str]] = {category: set() for category in CATEGORIES}
        for spec in slot.points.values():
            known.setdefault(spec.category, set()).add(spec.name)
        for definition in slot.known_points.values():
            known.setdefault(definition.category, set()).add(definition.name)
        self.known = known
        self.children = [SlotCheck(child) for child in slot.children.values()]
        self.expected_min: int = self.own_required + sum(
            c.number[0] * c.expected_min for c in self.children if c.required
        )
        self.required: bool = self.number[0] >= 1 and self.expected_min > 0


class CompiledChecks:
    """The per-slot checks of one model, built once and reused by every validation of that model."""

    __slots__ = ("model", "roots")

    def __init__(self, model: Model) -> None:
        self.model = model
        self.roots = [SlotCheck(slot) for slot in model.roots.values()]


_CACHE: dict[int, CompiledChecks] = {}
_CACHE_SIZE = 16


def compiled_checks(model: Model) -> CompiledChecks:
    """The cached compiled checks of `model` (keyed by identity; a few recent models are kept)."""
    checks = _CACHE.get(id(model))
    if checks is None or checks.model is not model:
        checks = CompiledChecks(model)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[id(model)] = checks
    return checks

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

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import itemgetter
from typing import Any

from tiro_models.errors import SnapshotError
from tiro_models.spec import CATEGORIES, PATH_SEP, Model, PointSpec, SlotSpec

_MISSING: Any = object()
_ONLY_DICT = {dict}
_VALUE = itemgetter("value")
_TIMESTAMP = itemgetter("timestamp")
_NUMBERS = (int, float)
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})

# (type, message, context) of a failed check; None means the value is acceptable.
Failure = tuple[str, str, dict[str, Any] | None] | None


@dataclass(frozen=True, slots=True)
class ValidationError:
    """One problem found: full dotted `path`, human-readable `msg`, `type`, upstream-style `loc` and `ctx`."""

    path: str
    msg: str
    type: str
    loc: tuple[str, ...]
    ctx: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `{path, msg, type}` form of the `errors` list."""
        return {"path": self.path, "msg": self.msg, "type": self.type}

    def upstream(self) -> dict[str, Any]:
        """The upstream pydantic-like form `{loc, msg, type, ctx?}` of the `exception` list."""
        kind = "value_error.missing" if self.type == "missing" else self.type
        out: dict[str, Any] = {"loc": list(self.loc), "msg": self.msg, "type": kind}
        if self.ctx:
            out["ctx"] = self.ctx
        return out


@dataclass(slots=True)
class ValidationResult:
    """The outcome of one validation: period, validity, errors, counts and completeness."""

    start: datetime
    end: datetime
    errors: list[ValidationError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    strict: bool = False

    @property
    def valid(self) -> bool:
        """True when no error was found."""
        return not self.errors

    @property
    def completeness(self) -> float:
        """Share (0–1) of expected required points that were received and valid."""
        expected = self.counts.get("expected", 0)
        if expected <= 0:
            return 1.0
        return max(0.0, (self.counts.get("received", 0) - self.counts.get("invalid", 0)) / expected)

    def to_dict(self) -> dict[str, Any]:
        """Upstream fields `{start, end, valid, exception}` plus `errors`, `counts` and `completeness`."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "valid": self.valid,
            "exception": None if self.valid else [e.upstream() for e in self.errors],
            "errors": [e.to_dict() for e in self.errors],
            "counts": dict(self.counts),
            "completeness": self.completeness,
        }

    def __str__(self) -> str:
        head = f"Validation Period: {self.start.isoformat(' ')} -- {self.end.isoformat(' ')}"
        if self.valid:
            return f"{head}\nSuccessful!"
        lines = [f"{head}\nFailed!", f"{len(self.errors)} validation error(s)"]
        lines += [f"{e.path}\n  {e.msg} (type={e.type})" for e in self.errors]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- value checks
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
            if isinstance(v, bool) or v is _MISSING:
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
        return (lambda v: v is not _MISSING), (lambda v, strict: None if v is not _MISSING else _MISSING_VALUE)
    from pydantic import TypeAdapter
    from pydantic import ValidationError as PydanticError

    try:
        adapter = TypeAdapter(annotation)
    except Exception:  # an annotation pydantic cannot handle: accept any present value rather than fail every check
        return _annotation_checks(None)

    def full(v: Any, strict: bool) -> Failure:
        if v is _MISSING:
            return _MISSING_VALUE
        try:
            adapter.validate_python(v, strict=strict)
        except PydanticError as exc:
            first = exc.errors()[0]
            raw_ctx = first.get("ctx") or {}
            ctx = {key: val if isinstance(val, str | int | float | bool) else str(val) for key, val in raw_ctx.items()}
            return f"pydantic.{first['type']}", first["msg"], ctx or None
        return None

    return (lambda v: full(v, True) is None), full


_MISSING_VALUE: Failure = ("missing", "field required", None)


def _parse_time(ts: Any) -> float | None:
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


# ---------------------------------------------------------------------------------------------- compiled model
class _PointCheck:
    __slots__ = ("column", "fast", "full", "name", "required")

    def __init__(self, spec: PointSpec) -> None:
        self.name = spec.name
        self.required = not spec.has_default
        self.fast, self.full = _value_checks(spec)
        self.column = _column_check(spec, self.fast)


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


class _SlotCheck:
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
        by_category: dict[str, list[tuple[str, Callable, Callable, bool]]] = {}
        for spec in slot.points.values():
            check = _PointCheck(spec)
            entry = (check.name, check.fast, check.full, check.required, check.column)
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
        self.children = [_SlotCheck(child) for child in slot.children.values()]
        self.expected_min = self.own_required + sum(c.number[0] * c.expected_min for c in self.children if c.required)
        self.required = self.number[0] >= 1 and self.expected_min > 0


class CompiledChecks:
    """The per-slot checks of one model, built once and reused by every validation of that model."""

    __slots__ = ("model", "roots")

    def __init__(self, model: Model) -> None:
        self.model = model
        self.roots = [_SlotCheck(slot) for slot in model.roots.values()]


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


# ---------------------------------------------------------------------------------------------- the walk
class _Run:
    """State of one validation call: options, counters, errors and memoised timestamps."""

    __slots__ = (
        "bad_times",
        "errors",
        "expected",
        "flat_input",
        "good_times",
        "invalid",
        "max_age_floor",
        "missing_shortfall",
        "received",
        "strict",
        "unknown",
        "window",
    )

    def __init__(self, strict: bool, now: datetime, max_age: float | None, window: tuple[datetime, datetime] | None):
        self.strict = strict
        self.flat_input = False
        self.errors: list[ValidationError] = []
        self.expected = 0
        self.received = 0
        self.invalid = 0
        self.unknown = 0
        self.missing_shortfall = 0
        self.good_times: set[Any] = set()
        self.bad_times: dict[Any, Failure] = {}
        self.max_age_floor = now.timestamp() - max_age if (strict and max_age is not None) else None
        self.window = (window[0].timestamp(), window[1].timestamp()) if (strict and window is not None) else None

    def error(self, loc: tuple[str, ...], kind: str, msg: str, ctx: dict[str, Any] | None = None, extra: str = ""):
        """Record one error at `loc` (plus an upstream-only trailing `extra` loc element such as "value")."""
        full_loc = (*loc, extra) if extra else loc
        self.errors.append(ValidationError(PATH_SEP.join(loc), msg, kind, full_loc, ctx))

    def time_failure(self, ts: Any) -> Failure:
        """Classify a timestamp that is not already known to be good (memoised per distinct value)."""
        try:
            cached = self.bad_times.get(ts, _MISSING)
        except TypeError:
            return "value_error.datetime", "invalid datetime format", None
        if cached is not _MISSING:
            return cached
        failure: Failure = None
        moment = _parse_time(ts)
        if moment is None:
            failure = ("value_error.datetime", "invalid datetime format", None)
        elif self.max_age_floor is not None and moment < self.max_age_floor:
            failure = ("stale", f"timestamp {ts} is older than the maximum age", None)
        elif self.window is not None and not self.window[0] <= moment < self.window[1]:
            start, end = (datetime.fromtimestamp(t, UTC).isoformat() for t in self.window)
            failure = ("out_of_window", f"timestamp {ts} is outside the window [{start}, {end})", None)
        if failure is None:
            self.good_times.add(ts)
        else:
            self.bad_times[ts] = failure
        return failure

    # -------------------------------------------------------------- tree
    def slots(self, checks: list[_SlotCheck], parents: list[tuple[Any, tuple[str, ...]]]) -> None:
        """Validate child slots slot by slot over all parent entities at once (column-wise when all is well)."""
        for slot in checks:
            entities: list[Any] = []
            sources: list[tuple[tuple[str, ...], Mapping[str, Any]]] = []  # (slot loc, id map) per parent
            for container, loc in parents:
                self.slot_map(slot, container, loc, entities, sources)
            if not entities:
                continue
            # Entity locations are only needed for errors and for child slots: build them lazily.
            locs: list[tuple[str, ...]] | None = None
            if not self.fast_group(slot, entities):
                locs = _entity_locs(sources)
                for entity, loc in zip(entities, locs, strict=True):
                    self.entity(slot, entity, loc)
            if slot.children:
                locs = locs if locs is not None else _entity_locs(sources)
                self.slots(
                    slot.children, [(e, loc) for e, loc in zip(entities, locs, strict=True) if isinstance(e, Mapping)]
                )

    def slot_map(self, slot: _SlotCheck, container: Mapping[str, Any], loc: tuple[str, ...], entities, sources) -> None:
        """Check one parent's `{id: entity}` map of a slot and queue its entities."""
        slot_map = container.get(slot.name, _MISSING)
        slot_loc = (*loc, slot.name)
        if slot_map is _MISSING:
            if slot.required:
                self.error(slot_loc, "missing", "field required")
                self.expected += slot.number[0] * slot.expected_min
            return
        if not isinstance(slot_map, Mapping):
            self.error(slot_loc, "type_error.dict", "value is not a valid dict")
            self.expected += slot.number[0] * slot.expected_min
            return
        ids = slot.ids
        if ids is not None and not ids.issuperset(slot_map):
            permitted = ", ".join(repr(i) for i in sorted(ids))
            for asset_id in slot_map:
                if asset_id not in ids:
                    self.errors.append(
                        ValidationError(
                            PATH_SEP.join((*slot_loc, str(asset_id))),
                            f"unexpected value; permitted: {permitted}",
                            "value_error.id",
                            (*slot_loc, "__key__"),
                            {"given": asset_id, "permitted": sorted(ids)},
                        )
                    )
        entities.extend(slot_map.values())
        sources.append((slot_loc, slot_map))
        if self.strict:
            self.count(slot, len(slot_map), slot_loc)

    def fast_group(self, slot: _SlotCheck, entities: list[Any]) -> bool:
        """Column-wise check of all entities of a slot; True only if everything is present, valid and known.

        It has no effect other than counting on success, so on False the detailed per-entity walk runs instead.
        """
        n = len(entities)
        # map() over unbound dict methods keeps every per-point step in C; any surprise falls back to the walk.
        if set(map(type, entities)) != _ONLY_DICT:
            return False
        recognised = 0
        received = 0
        good_times = self.good_times
        dict_get = dict.get
        for category, required, _n_required, points in slot.categories:
            cats = list(map(dict_get, entities, repeat(category)))
            if not required:
                cats = [c for c in cats if c is not None]
                if not cats:
                    continue
            if set(map(type, cats)) != _ONLY_DICT:
                return False
            recognised += len(cats)
            found = 0
            for name, _fast, _full, point_required, column in points:
                dps = list(map(dict_get, cats, repeat(name)))
                if None in dps:
                    if point_required:
                        return False
                    dps = [d for d in dps if d is not None]
                    if not dps:
                        continue
                if set(map(type, dps)) != _ONLY_DICT:
                    return False
                try:
                    values = list(map(_VALUE, dps))
                    stamps = set(map(_TIMESTAMP, dps))
                except (KeyError, TypeError):
                    return False
                if not column(values):
                    return False
                if not good_times.issuperset(stamps):
                    for ts in stamps - good_times:
                        if self.time_failure(ts) is not None:
                            return False
                found += len(dps)
                if point_required:
                    received += len(dps)
            if sum(map(len, cats)) != found:
                return False  # unknown points: the detailed walk reports them
        contains = dict.__contains__
        for child in slot.children:
            recognised += sum(map(contains, entities, repeat(child.name)))
        if sum(map(len, entities)) != recognised:
            return False
        self.expected += slot.own_required * n
        self.received += received
        return True

    def count(self, slot: _SlotCheck, n: int, slot_loc: tuple[str, ...]) -> None:
        """Strict: the number of assets in a slot must lie within its `$number` range."""
        low, high = slot.number
        if low <= n <= high:
            return
        if n < low and self.flat_input and slot.expected_min == 0:
            return  # flat data cannot show an asset that carries no required point: absence proves nothing
        wanted = str(low) if low == high else f"{low} to {high}"
        parent = PATH_SEP.join(slot_loc[:-1]) or "the root"
        self.error(
            slot_loc,
            "count",
            f"expected {wanted} {slot.name} asset(s) under {parent}, got {n}",
            {"min": low, "max": high, "given": n},
        )
        if n < low:
            self.expected += (low - n) * slot.expected_min

    def entity(self, slot: _SlotCheck, entity: Any, loc: tuple[str, ...]) -> None:
        """Detailed check of one asset's categories, points and unknown keys (its child slots are checked later)."""
        if not isinstance(entity, Mapping):
            self.error(loc, "type_error.dict", "value is not a valid dict")
            self.expected += slot.expected_min
            return
        self.expected += slot.own_required
        seen = 0
        for category, required, _n_required, points in slot.categories:
            cat = entity.get(category, _MISSING)
            if cat is _MISSING:
                if required:
                    self.error((*loc, category), "missing", "field required")
                continue
            seen += 1
            if cat.__class__ is not dict and not isinstance(cat, Mapping):
                self.error((*loc, category), "type_error.dict", "value is not a valid dict")
                continue
            found = self.points(cat, points, (*loc, category))
            if len(cat) > found:
                self.unknown_points(slot, category, cat, (*loc, category))
        for child in slot.children:
            seen += child.name in entity
        if len(entity) > seen:
            self.unknown_keys(slot, entity, loc)

    def points(self, cat: Mapping[str, Any], points: list, loc: tuple[str, ...]) -> int:
        """The hot loop: validate the points of one category; returns how many of them were present."""
        get = cat.get
        good_times = self.good_times
        strict = self.strict
        found = 0
        received = 0
        invalid = 0
        for name, fast, full, required, _column in points:
            dp = get(name)
            if dp is None:
                if required and name not in cat:
                    self.error((*loc, name), "missing", "field required")
                    continue
                if dp is None and name not in cat:
                    continue
            found += 1
            if required:
                received += 1
            if dp.__class__ is not dict and not isinstance(dp, Mapping):
                self.error((*loc, name), "type_error.dict", "value is not a valid dict")
                invalid += required
                continue
            value = dp.get("value", _MISSING)
            bad = False
            if not fast(value):
                failure = _MISSING_VALUE if value is _MISSING else full(value, strict)
                if failure is not None:
                    self.error((*loc, name), failure[0], failure[1], failure[2], "value")
                    bad = True
            ts = dp.get("timestamp", _MISSING)
            try:
                ok = ts in good_times
            except TypeError:
                ok = False
            if not ok:
                failure = _MISSING_VALUE if ts is _MISSING else self.time_failure(ts)
                if failure is not None:
                    self.error((*loc, name), failure[0], failure[1], failure[2], "timestamp")
                    bad = True
            if bad and required:
                invalid += 1
        self.received += received
        self.invalid += invalid
        return found

    def unknown_points(self, slot: _SlotCheck, category: str, cat: Mapping[str, Any], loc: tuple[str, ...]) -> None:
        """Points in a category that the asset type does not declare."""
        known = slot.known.get(category, ())
        for name in cat:
            if name not in known:
                self.unknown += 1
                if self.strict:
                    self.error((*loc, str(name)), "unknown_point", f"unknown data point {name!r} for {slot.type_path}")

    def unknown_keys(self, slot: _SlotCheck | None, entity: Mapping[str, Any], loc: tuple[str, ...]) -> None:
        """Keys of an entity that are neither a checked category nor a required child slot."""
        checked = {c[0] for c in slot.categories} if slot is not None else set()
        children = {c.name for c in slot.children} if slot is not None else set()
        for key in entity:
            if key in checked or key in children:
                continue
            if key in CATEGORIES and slot is not None:
                value = entity[key]
                if isinstance(value, Mapping):
                    self.unknown_points(slot, key, value, (*loc, key))
                continue
            self.unknown += 1
            if self.strict:
                where = slot.type_path if slot is not None else "the scenario root"
                self.error((*loc, str(key)), "unknown_asset", f"unknown asset type or slot {key!r} under {where}")


# ---------------------------------------------------------------------------------------------- public API
def is_flat(snapshot: Mapping[str, Any]) -> bool:
    """True when `snapshot` is in flat form `{dp path: DP}` (its keys are dotted paths)."""
    return any(isinstance(key, str) and PATH_SEP in key for key in snapshot)


def nest_flat(flat: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Nest a flat `{dp path: DP}` mapping; returns the nested snapshot and the keys that are not dp paths."""
    bad: list[str] = []
    # First gather points per "<asset path>.<Category>" prefix (one rpartition per point), then nest each prefix once.
    by_prefix: dict[str, dict[str, Any]] = {}
    for path, dp in flat.items():
        if path.__class__ is not str:
            bad.append(str(path))
            continue
        prefix, _, name = path.rpartition(PATH_SEP)
        points = by_prefix.get(prefix)
        if points is None:
            points = by_prefix[prefix] = {}
        points[name] = dp
    root: dict[str, Any] = {}
    for prefix, points in by_prefix.items():
        asset, _, category = prefix.rpartition(PATH_SEP)
        parts = asset.split(PATH_SEP)
        if not asset or category not in CATEGORIES or len(parts) % 2:
            bad.extend(f"{prefix}{PATH_SEP}{name}" if prefix else name for name in points)
            continue
        entity: Any = root
        for i in range(0, len(parts), 2):
            slot_map = entity.setdefault(parts[i], {})
            entity = slot_map.setdefault(parts[i + 1], {}) if slot_map.__class__ is dict else None
            if entity.__class__ is not dict:
                break  # a path running through a data point: reported as not a dp path below
        if entity.__class__ is not dict or category in entity:
            bad.extend(f"{prefix}{PATH_SEP}{name}" for name in points)
            continue
        entity[category] = points
    return root, bad


def validate(
    model: Model,
    snapshot: Mapping[str, Any],
    *,
    strict: bool = False,
    now: datetime | None = None,
    max_age: float | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> ValidationResult:
    """Validate a nested or flat snapshot against `model` (lenient = upstream checks; strict adds more)."""
    if not isinstance(snapshot, Mapping):
        raise SnapshotError(f"a snapshot must be a JSON object, not {type(snapshot).__name__}")
    moment = _aware(now) if now is not None else datetime.now(UTC)
    if window is not None:
        window = (_aware(window[0]), _aware(window[1]))
    run = _Run(strict, moment, max_age, window)
    bad_paths: list[str] = []
    if is_flat(snapshot):
        snapshot, bad_paths = nest_flat(snapshot)
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


def _entity_locs(sources: list[tuple[tuple[str, ...], Mapping[str, Any]]]) -> list[tuple[str, ...]]:
    """The loc of every entity of a slot group, in the order their entities were queued."""
    return [(*slot_loc, str(asset_id)) for slot_loc, slot_map in sources for asset_id in slot_map]


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class Collector:
    """Latest DP per data-point path over a window (last write wins), ready to validate as a flat snapshot."""

    __slots__ = ("_latest",)

    def __init__(self) -> None:
        self._latest: dict[str, Any] = {}

    def collect(self, path: str, dp: Any) -> None:
        """Keep `dp` at `path`: a full dp path with a DP, or a shorter path ("", asset, slot) with a sub-object."""
        # The common case first, without splitting: `<Type>.<id>(.<Type>.<id>)*.<Category>.<Name>`.
        dots = path.count(PATH_SEP)
        if dots >= 3 and dots % 2 and path.rpartition(PATH_SEP)[0].rpartition(PATH_SEP)[2] in CATEGORIES:
            self._latest[path] = dp
            return
        parts = path.split(PATH_SEP) if path else []
        if len(parts) >= 4 and len(parts) % 2 == 0 and parts[-2] in CATEGORIES:
            self._latest[path] = dp
            return
        if len(parts) % 2 == 1 and parts[-1] in CATEGORIES and isinstance(dp, Mapping):
            for name, point in dp.items():  # a whole category object
                self._latest[f"{path}{PATH_SEP}{name}"] = point
            return
        if not isinstance(dp, Mapping):
            raise SnapshotError(f"cannot collect a non-object at {path or 'the root'}")
        if len(parts) % 2 == 0:  # the root or an asset path: dp is an entity / snapshot
            self._collect_entity(path, dp)
        else:  # a slot path: dp maps ids to entities
            for asset_id, entity in dp.items():
                if isinstance(entity, Mapping):
                    self._collect_entity(f"{path}{PATH_SEP}{asset_id}", entity)

    def _collect_entity(self, prefix: str, entity: Mapping[str, Any]) -> None:
        for key, value in entity.items():
            sub = f"{prefix}{PATH_SEP}{key}" if prefix else str(key)
            if key in CATEGORIES and prefix and isinstance(value, Mapping):
                for name, point in value.items():
                    self._latest[f"{sub}{PATH_SEP}{name}"] = point
            elif isinstance(value, Mapping):
                for asset_id, child in value.items():
                    if isinstance(child, Mapping):
                        self._collect_entity(f"{sub}{PATH_SEP}{asset_id}", child)

    def collect_many(self, items: Iterable[tuple[str, Any]]) -> None:
        """Collect many `(path, dp)` pairs."""
        for path, dp in items:
            self.collect(path, dp)

    def snapshot(self) -> dict[str, Any]:
        """The collected points as a flat snapshot `{dp path: DP}` (a copy)."""
        return dict(self._latest)

    def clear(self) -> None:
        """Forget everything collected (start a new window)."""
        self._latest.clear()

    def __len__(self) -> int:
        return len(self._latest)

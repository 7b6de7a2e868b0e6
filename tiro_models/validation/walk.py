"""The snapshot walk: slot by slot over all assets at once, column-wise when all is well, detailed otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import repeat
from operator import itemgetter
from typing import Any

from tiro_models.spec import CATEGORIES, PATH_SEP

from .checks import DP_SHAPE, MISSING, MISSING_VALUE, NO_VALUE, Failure, SlotCheck, parse_time
from .result import ValidationError
from .time_column import all_times_good

_ONLY_DICT = {dict}
_VALUE = itemgetter("value")
_TIMESTAMP = itemgetter("timestamp")
_STAMP_CLASSES = frozenset({str, float, int})


class Run:
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

    def error(
        self,
        loc: tuple[str, ...],
        kind: str,
        msg: str,
        ctx: dict[str, Any] | None = None,
        extra: str = "",
        value: Any = NO_VALUE,
        allowed: str | None = None,
    ) -> None:
        """Record one error at `loc` (plus an upstream-only trailing `extra` loc element such as "value"), with the
        offending `value` and what is `allowed` when they are known."""
        full_loc = (*loc, extra) if extra else loc
        self.errors.append(ValidationError(PATH_SEP.join(loc), msg, kind, full_loc, ctx, value, allowed))

    def time_allowed(self) -> str:
        """What a timestamp must be, in words: ISO 8601 or epoch time, in the window or not stale (strict mode)."""
        rules = ["ISO 8601 or epoch time"]
        if self.window is not None:
            start, end = (datetime.fromtimestamp(t, UTC).isoformat() for t in self.window)
            rules.append(f"in [{start}, {end})")
        if self.max_age_floor is not None:
            rules.append(f"not before {datetime.fromtimestamp(self.max_age_floor, UTC).isoformat()}")
        return ", ".join(rules)

    def time_failure(self, ts: Any) -> Failure:
        """Classify a timestamp that is not already known to be good (memoised per distinct value)."""
        try:
            cached = self.bad_times.get(ts, MISSING)
        except TypeError:
            return "value_error.datetime", "invalid datetime format", None
        if cached is not MISSING:
            return cached
        failure: Failure = None
        moment = parse_time(ts)
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

    def times_good(self, stamps: list[Any]) -> bool:
        """True only if every timestamp of a column is good (False: the detailed walk reports what is not)."""
        first, last = stamps[0], stamps[-1]
        # Sampled one by one (a device's stamps): one C pass in column order beats a memo of distinct values.
        distinct_looking = first.__class__ in _STAMP_CLASSES and last.__class__ in _STAMP_CLASSES and first != last
        if distinct_looking and all_times_good(stamps, self.max_age_floor, self.window):
            return True
        try:
            distinct = set(stamps)
        except TypeError:
            return False
        return self.good_times.issuperset(distinct) or all(
            self.time_failure(ts) is None for ts in distinct - self.good_times
        )

    # -------------------------------------------------------------- tree
    def slots(self, checks: list[SlotCheck], parents: list[tuple[Any, tuple[str, ...]]]) -> None:
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
                locs = entity_locs(sources)
                for entity, loc in zip(entities, locs, strict=True):
                    self.entity(slot, entity, loc)
            if slot.children:
                locs = locs if locs is not None else entity_locs(sources)
                self.slots(
                    slot.children, [(e, loc) for e, loc in zip(entities, locs, strict=True) if isinstance(e, Mapping)]
                )

    def slot_map(self, slot: SlotCheck, container: Mapping[str, Any], loc: tuple[str, ...], entities, sources) -> None:
        """Check one parent's `{id: entity}` map of a slot and queue its entities."""
        slot_map = container.get(slot.name, MISSING)
        slot_loc = (*loc, slot.name)
        if slot_map is MISSING:
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
                            asset_id,
                            f"one of {permitted}",
                        )
                    )
        entities.extend(slot_map.values())
        sources.append((slot_loc, slot_map))
        if self.strict:
            self.count(slot, len(slot_map), slot_loc)

    def fast_group(self, slot: SlotCheck, entities: list[Any]) -> bool:
        """Column-wise check of all entities of a slot; True only if everything is present, valid and known.

        It has no effect other than counting on success, so on False the detailed per-entity walk runs instead.
        """
        n = len(entities)
        # map() over unbound dict methods keeps every per-point step in C; any surprise falls back to the walk.
        if set(map(type, entities)) != _ONLY_DICT:
            return False
        recognised = 0
        received = 0
        dict_get = dict.get
        for category, required, _n_required, points in slot.categories:
            cats: list[Any] = list(map(dict_get, entities, repeat(category)))
            if not required:
                cats = [c for c in cats if c is not None]
                if not cats:
                    continue
            if set(map(type, cats)) != _ONLY_DICT:
                return False
            recognised += len(cats)
            found = 0
            for name, _fast, _full, point_required, column, _allowed in points:
                dps: list[Any] = list(map(dict_get, cats, repeat(name)))
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
                    stamps = list(map(_TIMESTAMP, dps))
                except (KeyError, TypeError):
                    return False
                if not column(values) or not self.times_good(stamps):
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

    def count(self, slot: SlotCheck, n: int, slot_loc: tuple[str, ...]) -> None:
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
            value=n,
            allowed=f"{wanted} asset(s)",
        )
        if n < low:
            self.expected += (low - n) * slot.expected_min

    def entity(self, slot: SlotCheck, entity: Any, loc: tuple[str, ...]) -> None:
        """Detailed check of one asset's categories, points and unknown keys (its child slots are checked later)."""
        if not isinstance(entity, Mapping):
            self.error(loc, "type_error.dict", "value is not a valid dict")
            self.expected += slot.expected_min
            return
        self.expected += slot.own_required
        seen = 0
        for category, required, _n_required, points in slot.categories:
            cat = entity.get(category, MISSING)
            if cat is MISSING:
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
        for name, fast, full, required, _column, allowed in points:
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
                self.error((*loc, name), "type_error.dict", "value is not a valid dict", value=dp, allowed=DP_SHAPE)
                invalid += required
                continue
            value = dp.get("value", MISSING)
            bad = False
            if not fast(value):
                failure = MISSING_VALUE if value is MISSING else full(value, strict)
                if failure is not None:
                    shown = NO_VALUE if value is MISSING else value
                    self.error((*loc, name), failure[0], failure[1], failure[2], "value", shown, allowed)
                    bad = True
            ts = dp.get("timestamp", MISSING)
            try:
                ok = ts in good_times
            except TypeError:
                ok = False
            if not ok:
                failure = MISSING_VALUE if ts is MISSING else self.time_failure(ts)
                if failure is not None:
                    shown = NO_VALUE if ts is MISSING else ts
                    self.error(
                        (*loc, name), failure[0], failure[1], failure[2], "timestamp", shown, self.time_allowed()
                    )
                    bad = True
            if bad and required:
                invalid += 1
        self.received += received
        self.invalid += invalid
        return found

    def unknown_points(self, slot: SlotCheck, category: str, cat: Mapping[str, Any], loc: tuple[str, ...]) -> None:
        """Points in a category that the asset type does not declare."""
        known = slot.known.get(category, ())
        for name in cat:
            if name not in known:
                self.unknown += 1
                if self.strict:
                    self.error((*loc, str(name)), "unknown_point", f"unknown data point {name!r} for {slot.type_path}")

    def unknown_keys(self, slot: SlotCheck | None, entity: Mapping[str, Any], loc: tuple[str, ...]) -> None:
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


def entity_locs(sources: list[tuple[tuple[str, ...], Mapping[str, Any]]]) -> list[tuple[str, ...]]:
    """The loc of every entity of a slot group, in the order their entities were queued."""
    return [(*slot_loc, str(asset_id)) for slot_loc, slot_map in sources for asset_id in slot_map]

"""Seeded mock data for a model's instances: values per point spec, generated column-wise for speed."""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tiro_models.spec import ATTRIBUTE, CATEGORIES, PATH_SEP, Instances, PointSpec

# Bounds for open ranges: wide enough to look real, narrow enough to stay readable.
OPEN_SPAN = 1000
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")

Column = Callable[[int], list[Any]]


def _plain(value: Any) -> Any:
    """Pydantic model results (v2 or v1 style) become plain dicts; everything else is kept."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    legacy = getattr(value, "dict", None)
    if callable(legacy) and not isinstance(value, dict):
        return legacy()
    return value


def _numeric_range(value_range: Any) -> tuple[float, float] | None:
    """A reference `{min, max}` as numbers, or None when it is absent or not numeric (upstream crashed on strings)."""
    if not isinstance(value_range, Mapping):
        return None
    low, high = value_range.get("min"), value_range.get("max")
    numeric = (int, float)
    if isinstance(low, bool) or isinstance(high, bool) or not isinstance(low, numeric) or not isinstance(high, numeric):
        return None
    return float(low), float(high)


def _float_grid(spec: PointSpec, value_range: tuple[float, float] | None) -> tuple[int, int, int] | tuple[float, float]:
    """Integer grid (low, high, scale) of valid rounded floats, or a (low, high) float interval if the grid is empty."""
    d = spec.definition
    scale = 10 ** max(d.decimals, 0)
    low, high, low_open, high_open = _bounds(spec, value_range)
    lo_i = math.ceil(low * scale)
    hi_i = math.floor(high * scale)
    # Float rounding can put a grid end one step outside the limit: walk it back inside.
    while lo_i <= hi_i and (lo_i / scale < low or (low_open and lo_i / scale <= low)):
        lo_i += 1
    while hi_i >= lo_i and (hi_i / scale > high or (high_open and hi_i / scale >= high)):
        hi_i -= 1
    if lo_i > hi_i:
        return (low, high) if not (low_open or high_open) else ((low + high) / 2, (low + high) / 2)
    return lo_i, hi_i, scale


def _bounds(spec: PointSpec, value_range: tuple[float, float] | None) -> tuple[float, float, bool, bool]:
    """Lower/upper bound of generated numbers and whether each is exclusive, clamping any reference range."""
    d = spec.definition
    low, low_open = (d.ge, False) if d.ge is not None else (d.gt, True) if d.gt is not None else (None, False)
    high, high_open = (d.le, False) if d.le is not None else (d.lt, True) if d.lt is not None else (None, False)
    if low is None and high is None:
        low, high = 0.0, float(OPEN_SPAN)
    elif low is None:
        low = high - OPEN_SPAN
    elif high is None:
        high = low + OPEN_SPAN
    if value_range is not None:
        ref_low, ref_high = value_range
        new_low, new_high = max(low, ref_low), min(high, ref_high)
        if new_low <= new_high:
            # Within the type's limits the reference wins; its ends are inclusive unless they are the limits.
            low_open = low_open and new_low == low
            high_open = high_open and new_high == high
            low, high = new_low, new_high
    return float(low), float(high), low_open, high_open


def value_column(spec: PointSpec, rng: random.Random, value_range: Any = None) -> Column:
    """A function n → n fresh mock values for `spec` (the library faker if any, else from kind and constraints)."""
    d = spec.definition
    rand = rng.random
    if d.faker is not None:
        faker = d.faker
        return lambda n: [_plain(faker()) for _ in range(n)]
    kind = d.kind
    if kind == "any":
        kind, d_choices = _kind_of_annotation(d.py_type)
        if kind == "enum":
            choices = d_choices
            return lambda n: [choices[int(rand() * len(choices))] for _ in range(n)]
        if kind == "none":
            return lambda n: [None] * n
    numeric = _numeric_range(value_range)
    if kind == "float":
        grid = _float_grid(spec, numeric)
        if len(grid) == 3:
            lo_i, hi_i, scale = grid
            span = hi_i - lo_i + 1
            return lambda n: [(lo_i + int(rand() * span)) / scale for _ in range(n)]
        low, high = grid
        return lambda n: [low + (high - low) * rand() for _ in range(n)]
    if kind == "int":
        low, high, low_open, high_open = _bounds(spec, numeric)
        lo_i = math.floor(low) + 1 if low_open else math.ceil(low)
        hi_i = math.ceil(high) - 1 if high_open else math.floor(high)
        span = max(hi_i - lo_i + 1, 1)
        return lambda n: [lo_i + int(rand() * span) for _ in range(n)]
    if kind == "bool":
        return lambda n: [rand() < 0.5 for _ in range(n)]
    if kind == "enum":
        choices = tuple(d.choices or (None,))
        count = len(choices)
        return lambda n: [choices[int(rand() * count)] for _ in range(n)]
    words = _WORDS
    return lambda n: [f"{words[int(rand() * 10)]}-{int(rand() * 1000)}" for _ in range(n)]


def _kind_of_annotation(annotation: Any) -> tuple[str, tuple[Any, ...]]:
    """Map an arbitrary pydantic annotation to a generatable kind through its JSON Schema (best effort)."""
    if annotation is None:
        return "str", ()
    try:
        from pydantic import TypeAdapter

        schema = TypeAdapter(annotation).json_schema()
    except Exception:
        return "none", ()
    if "enum" in schema:
        return "enum", tuple(schema["enum"])
    kinds = {"number": "float", "integer": "int", "boolean": "bool", "string": "str", "null": "none"}
    return kinds.get(schema.get("type"), "none"), ()


class Mocker:
    """Seeded mock snapshots, single points and batches for the instances of a compiled model."""

    def __init__(self, instances: Instances, *, seed: int | None = None, reference: Mapping[str, Any] | None = None):
        self.instances = instances
        self.rng = random.Random(seed)
        ranges = (reference or {}).get("value_range") or {}
        self._ranges: Mapping[str, Any] = ranges if isinstance(ranges, Mapping) else {}
        self._columns: dict[str, Column] = {}
        self._sticky: dict[str, Any] = {}  # attribute values by dp path: attributes change only on request
        self._plans: dict[bool, _Plan] = {}
        self._asset_index = {asset.path: i for i, asset in enumerate(instances.assets)}
        if seed is not None:
            _seed_library_fakers(instances, seed)

    # ------------------------------------------------------------------ values
    def _column(self, spec: PointSpec) -> Column:
        column = self._columns.get(spec.type_path)
        if column is None:
            column = value_column(spec, self.rng, self._ranges.get(spec.type_path))
            self._columns[spec.type_path] = column
        return column

    def _values(self, spec: PointSpec, paths: list[str], use_defaults: bool, change_attrs: bool) -> list[Any]:
        """Values of one spec for many dp paths: defaults, sticky attributes, else fresh."""
        if use_defaults and spec.has_default:
            return [spec.default] * len(paths)
        if spec.category != ATTRIBUTE:
            return self._column(spec)(len(paths))
        sticky = self._sticky
        if not change_attrs and all(p in sticky for p in paths):
            return [sticky[p] for p in paths]
        fresh = self._column(spec)(len(paths))
        if change_attrs:
            sticky.update(zip(paths, fresh, strict=True))
            return fresh
        values = [sticky.setdefault(p, v) for p, v in zip(paths, fresh, strict=True)]
        return values

    def _timestamps(self, spec: PointSpec, n: int, now_ts: float, now_iso: str) -> list[str] | None:
        """Per-point timestamps within time_var seconds before now, or None when all equal `now_iso`."""
        time_var = spec.definition.time_var
        if not time_var:
            return None
        rand = self.rng.random
        return [datetime.fromtimestamp(now_ts - rand() * time_var, UTC).isoformat() for _ in range(n)]

    def _dps(self, spec: PointSpec, paths: list[str], now: datetime, use_defaults: bool, change_attrs: bool):
        """DP dicts for one spec over many paths."""
        values = self._values(spec, paths, use_defaults, change_attrs)
        now_iso = now.isoformat()
        stamps = self._timestamps(spec, len(values), now.timestamp(), now_iso)
        unit = spec.unit
        if stamps is None:
            if unit is None:
                return [{"value": v, "timestamp": now_iso} for v in values]
            return [{"value": v, "timestamp": now_iso, "unit": unit} for v in values]
        if unit is None:
            return [{"value": v, "timestamp": t} for v, t in zip(values, stamps, strict=True)]
        return [{"value": v, "timestamp": t, "unit": unit} for v, t in zip(values, stamps, strict=True)]

    # ------------------------------------------------------------------ public API
    def data_point_paths(self, skip_defaults: bool = True) -> list[str]:
        """Every data-point path, depth first (per asset its points, then its children), like upstream /points/."""
        if not skip_defaults:
            return list(self.instances.points)
        return [path for path, spec in self.instances.points.items() if not spec.has_default]

    def point(self, dp_path: str, *, use_default: bool = True, now: datetime | None = None) -> dict[str, Any] | None:
        """A DP object for one data-point path, or None if the path is not a data point of these instances."""
        spec = self.instances.points.get(dp_path)
        if spec is None:
            return None
        return self._dps(spec, [dp_path], _now(now), use_default, False)[0]

    def values(self, dp_paths: Iterable[str], now: datetime | None = None) -> list[dict[str, Any] | None]:
        """DP objects for many paths in one batch (None for unknown paths), generated column-wise per spec."""
        paths = list(dp_paths)
        specs = self.instances.points
        groups: dict[str, tuple[PointSpec, list[int], list[str]]] = {}
        for i, path in enumerate(paths):
            spec = specs.get(path)
            if spec is None:
                continue
            group = groups.get(spec.type_path)
            if group is None:
                group = groups[spec.type_path] = (spec, [], [])
            group[1].append(i)
            group[2].append(path)
        out: list[dict[str, Any] | None] = [None] * len(paths)
        moment = _now(now)
        for spec, indexes, group_paths in groups.values():
            for i, dp in zip(indexes, self._dps(spec, group_paths, moment, True, False), strict=True):
                out[i] = dp
        return out

    def flat(
        self,
        *,
        skip_defaults: bool = True,
        use_defaults: bool = True,
        now: datetime | None = None,
        change_attrs: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """A snapshot in flat form `{dp path: DP}`, in data_point_paths order."""
        plan = self._plan(skip_defaults)
        moment = _now(now)
        generated: dict[str, dict[str, Any]] = {}
        for spec, _, _, _, paths in plan.groups:
            generated.update(zip(paths, self._dps(spec, paths, moment, use_defaults, change_attrs), strict=True))
        return {path: generated[path] for path in plan.order}

    def snapshot(
        self,
        *,
        skip_defaults: bool = True,
        use_defaults: bool = True,
        now: datetime | None = None,
        change_attrs: bool = False,
    ) -> dict[str, Any]:
        """A nested snapshot (§3.2 shape) of every asset; empty groups are omitted."""
        plan = self._plan(skip_defaults)
        moment = _now(now)
        root: dict[str, Any] = {}
        entities: list[dict[str, Any]] = []
        assets = self.instances.assets
        for i, asset in enumerate(assets):
            entity = {category: {} for category in plan.categories[i]}
            entities.append(entity)
            parent = root if plan.parents[i] < 0 else entities[plan.parents[i]]
            slot_map = parent.get(asset.slot.name)
            if slot_map is None:
                slot_map = parent[asset.slot.name] = {}
            slot_map[asset.id] = entity
        for spec, indexes, category, name, paths in plan.groups:
            dps = self._dps(spec, paths, moment, use_defaults, change_attrs)
            for i, dp in zip(indexes, dps, strict=True):
                entities[i][category][name] = dp
        return root

    def hierarchy(self) -> dict[str, Any]:
        """The hierarchy form: same nesting, each category a list of point names (points with defaults included)."""
        plan = self._plan(False)
        root: dict[str, Any] = {}
        entities: list[dict[str, Any]] = []
        for i, asset in enumerate(self.instances.assets):
            entity: dict[str, Any] = {category: [] for category in plan.categories[i]}
            entities.append(entity)
            parent = root if plan.parents[i] < 0 else entities[plan.parents[i]]
            parent.setdefault(asset.slot.name, {})[asset.id] = entity
        for path, spec in self.instances.points.items():
            asset_path = path[: -len(spec.category) - len(spec.name) - 2]
            entities[self._asset_index[asset_path]][spec.category].append(spec.name)
        return root

    @staticmethod
    def compact(snapshot: Mapping[str, Any]) -> dict[str, Any]:
        """The compact form: categories merged, DP objects replaced by their values."""
        return compact(snapshot)

    def _plan(self, skip_defaults: bool) -> _Plan:
        plan = self._plans.get(skip_defaults)
        if plan is None:
            plan = self._plans[skip_defaults] = _Plan(self.instances, self._asset_index, skip_defaults)
        return plan


class _Plan:
    """Precomputed layout of a snapshot: per asset its parent and categories, points grouped by spec."""

    __slots__ = ("categories", "groups", "order", "parents")

    def __init__(self, instances: Instances, asset_index: dict[str, int], skip_defaults: bool) -> None:
        assets = instances.assets
        self.parents = [asset_index[a.parent] if a.parent else -1 for a in assets]
        cats: list[list[str]] = [[] for _ in assets]
        grouped: dict[str, tuple[PointSpec, list[int], str, str, list[str]]] = {}
        order: list[str] = []
        for path, spec in instances.points.items():
            if skip_defaults and spec.has_default:
                continue
            category, name = spec.category, spec.name
            index = asset_index[path[: -len(category) - len(name) - 2]]
            if category not in cats[index]:
                cats[index].append(category)
            group = grouped.get(spec.type_path)
            if group is None:
                group = grouped[spec.type_path] = (spec, [], category, name, [])
            group[1].append(index)
            group[4].append(path)
            order.append(path)
        self.categories = [tuple(c for c in CATEGORIES if c in found) for found in cats]
        self.groups = list(grouped.values())
        self.order = order


def compact(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """`{Type: {id: {ChildType: ..., Name: value}}}`: categories merged, timestamps and units dropped."""
    out: dict[str, Any] = {}
    for slot_name, entities in snapshot.items():
        if not isinstance(entities, Mapping):
            continue
        slot_out: dict[str, Any] = {}
        for asset_id, entity in entities.items():
            entity_out: dict[str, Any] = {}
            if isinstance(entity, Mapping):
                children = {k: v for k, v in entity.items() if k not in CATEGORIES}
                for category in CATEGORIES:
                    for name, dp in (entity.get(category) or {}).items():
                        entity_out[name] = dp.get("value") if isinstance(dp, Mapping) else dp
                entity_out.update(compact(children))
            slot_out[asset_id] = entity_out
        out[slot_name] = slot_out
    return out


def example(
    instances: Instances,
    *,
    seed: int | None = None,
    reference: Mapping[str, Any] | None = None,
    compact_form: bool = False,
    skip_defaults: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One example snapshot of `instances` (what `tiro schema example` prints)."""
    snap = Mocker(instances, seed=seed, reference=reference).snapshot(skip_defaults=skip_defaults, now=now)
    return compact(snap) if compact_form else snap


def _seed_library_fakers(instances: Instances, seed: int) -> None:
    """Seed Faker's shared generator so library `faker=` callables built on Faker() are reproducible too."""
    if not any(spec.definition.faker is not None for spec in instances.model.points.values()):
        return
    faker_module = sys.modules.get("faker")  # only when a library already uses Faker: never import it for nothing
    if faker_module is not None and hasattr(faker_module, "Faker"):
        faker_module.Faker.seed(seed)


def _now(now: datetime | None) -> datetime:
    """`now` as an aware UTC datetime (naive input is taken as UTC)."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


__all__ = ["OPEN_SPAN", "PATH_SEP", "Mocker", "compact", "example", "value_column"]

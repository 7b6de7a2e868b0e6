"""Seeded mock data for a model's instances: values per point spec, generated column-wise for speed."""

from __future__ import annotations

import gc
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from itertools import repeat
from operator import setitem, truediv
from typing import Any, cast

from tiro_models.seeding import SeededDraws
from tiro_models.spec import ATTRIBUTE, CATEGORIES, NO_DEFAULT, Instances, PointSpec
from tiro_models.utc_columns import numpy_texts

# Bounds for open ranges: wide enough to look real, narrow enough to stay readable.
OPEN_SPAN = 1000
_EXACT_INTS = 2.0**53
_NOTHING: Any = object()
# Pollers repeat their batches round after round: the groups of every batch of a round are remembered, up to twice
# as many paths as the instances have (a round of 2,000-path batches over 16 remembered ones missed every time).
_BATCH_CACHE_MIN_PATHS = 4096
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
    if not (abs(low * scale) < _EXACT_INTS and abs(high * scale) < _EXACT_INTS):
        return low, high  # beyond exact float integers a grid is meaningless: draw from the interval
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
    low: float | None
    high: float | None
    low, low_open = (d.ge, False) if d.ge is not None else (d.gt, True) if d.gt is not None else (None, False)
    high, high_open = (d.le, False) if d.le is not None else (d.lt, True) if d.lt is not None else (None, False)
    if low is None and high is None:
        low, high = 0.0, float(OPEN_SPAN)
    elif low is None:
        low = cast(float, high) - OPEN_SPAN
    elif high is None:
        high = low + OPEN_SPAN
    assert low is not None and high is not None
    if value_range is not None:
        ref_low, ref_high = value_range
        new_low, new_high = max(low, ref_low), min(high, ref_high)
        if new_low <= new_high:
            # Within the type's limits the reference wins; its ends are inclusive unless they are the limits.
            low_open = low_open and new_low == low
            high_open = high_open and new_high == high
            low, high = new_low, new_high
    return float(low), float(high), low_open, high_open


# Floats on a grid of at most this many values are drawn from a precomputed table (fastest); wider grids from a range.
_TABLE_LIMIT = 200_000


class _Draw:
    """Draws from a fixed population: k at a time with Random.choices (fast in bulk), or one directly."""

    __slots__ = ("choices", "population", "random", "size")

    def __init__(self, population: Any, rng: random.Random) -> None:
        self.population = population
        self.size = len(population)
        self.choices = rng.choices
        self.random = rng.random

    def __call__(self, n: int) -> list[Any]:
        return self.choices(self.population, k=n)

    def one(self) -> Any:
        """One value, without building a list."""
        return self.population[int(self.random() * self.size)]


class _ScaledDraw(_Draw):
    """Draws integers from a range and divides them by `scale` (float grids too wide for a table)."""

    __slots__ = ("scale",)

    def __init__(self, population: range, rng: random.Random, scale: int) -> None:
        super().__init__(population, rng)
        self.scale = scale

    def __call__(self, n: int) -> list[Any]:
        return list(map(truediv, self.choices(self.population, k=n), repeat(self.scale)))

    def one(self) -> Any:
        """One value, without building a list."""
        return super().one() / self.scale


def value_column(spec: PointSpec, rng: random.Random, value_range: Any = None, seed: int | None = None) -> Column:
    """A function n → n fresh mock values for `spec` (the library faker if any, else from kind and constraints)."""
    d = spec.definition
    if d.faker is not None:
        return _faker_column(d.faker, seed, spec.type_path)
    kind = d.kind
    if kind == "any":
        kind, options, limits = _kind_of_annotation(d.py_type)
        if kind == "enum":
            return _Draw(options, rng)
        if kind == "none":
            return lambda n: [None] * n
        if limits:
            # Generate from the annotation's own constraints, e.g. confloat(ge=0, le=50) kept as kind "any".
            spec = replace(spec, definition=replace(d, kind=kind, **cast(dict[str, Any], limits)))
    numeric = _numeric_range(value_range)
    if kind == "float":
        grid = _float_grid(spec, numeric)
        if len(grid) == 3:
            lo_i, hi_i, scale = grid
            if hi_i - lo_i < _TABLE_LIMIT:
                return _Draw([i / scale for i in range(lo_i, hi_i + 1)], rng)
            return _ScaledDraw(range(lo_i, hi_i + 1), rng, scale)
        low, high = grid
        rand = rng.random
        # Interpolate without computing high - low, which overflows for limits near the float range.
        return lambda n: [min(high, max(low, low * (1.0 - r) + high * r)) for r in [rand() for _ in range(n)]]
    if kind == "int":
        low, high, low_open, high_open = _bounds(spec, numeric)
        lo_i = math.floor(low) + 1 if low_open else math.ceil(low)
        hi_i = math.ceil(high) - 1 if high_open else math.floor(high)
        return _Draw(range(lo_i, max(hi_i, lo_i) + 1), rng)
    if kind == "bool":
        return _Draw((False, True), rng)
    if kind == "enum":
        return _Draw(tuple(d.choices or (None,)), rng)
    pool = [f"{word}-{number}" for word in _WORDS for number in range(100)]
    return _Draw(pool, rng)


# Under a seed, single values of a library faker are drawn this many at a time: each draw reseeds and restores
# the faker's generators (tens of µs with numpy), which one value per HTTP request could not amortise.
_SEEDED_SPARE = 64


class _SeededFakerColumn:
    """A library faker under a seed: each call is one draw from generators seeded for (seed, point type, draw)."""

    __slots__ = ("draws", "faker", "spare")

    def __init__(self, faker: Callable[[], Any], seed: int, key: str) -> None:
        self.faker = faker
        self.draws = SeededDraws(faker, seed, key)
        self.spare: list[Any] = []

    def __call__(self, n: int) -> list[Any]:
        faker = self.faker
        with self.draws:
            return [_plain(faker()) for _ in range(n)]

    def one(self) -> Any:
        """The next value of a draw made for single values (so the n-th single value is the same in every run)."""
        if not self.spare:
            self.spare = self(_SEEDED_SPARE)[::-1]
        return self.spare.pop()


def _faker_column(faker: Callable[[], Any], seed: int | None, key: str) -> Column:
    """Values of a library faker; without a seed it is called as the library's own code would call it."""
    if seed is None:
        return lambda n: [_plain(faker()) for _ in range(n)]
    return _SeededFakerColumn(faker, seed, key)


def _kind_of_annotation(annotation: Any) -> tuple[str, tuple[Any, ...], dict[str, float]]:
    """Map an arbitrary pydantic annotation to a kind, enum options and numeric limits via its JSON Schema."""
    if annotation is None:
        return "str", (), {}
    try:
        from pydantic import TypeAdapter

        schema = TypeAdapter(annotation).json_schema()
    except Exception:
        return "none", (), {}
    if "enum" in schema:
        return "enum", tuple(schema["enum"]), {}
    kinds = {"number": "float", "integer": "int", "boolean": "bool", "string": "str", "null": "none"}
    keywords = {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt"}
    limits = {name: schema[key] for key, name in keywords.items() if isinstance(schema.get(key), int | float)}
    return kinds.get(str(schema.get("type")), "none"), (), limits


def iso_utc(moments: list[float]) -> list[str]:
    """`datetime.fromtimestamp(t, UTC).isoformat()` of each epoch-seconds moment (non-negative): the mock's
    timestamp column kernel (one string per point through datetime was half its CPU). A column long enough goes to
    numpy (`tiro_models.utc_columns`); a short one, or one that kernel declines, to `iso_utc_by_second`."""
    texts = numpy_texts(moments)
    return texts if texts is not None else iso_utc_by_second(moments)


def iso_utc_by_second(moments: list[float]) -> list[str]:
    """`iso_utc` without numpy and without a datetime per moment: the text up to the second once per distinct
    second, the microseconds rounded as datetime rounds them (half to even)."""
    seconds: dict[int, str] = {}
    out: list[str] = []
    append = out.append
    for moment in moments:
        whole = math.floor(moment)
        micros = round((moment - whole) * 1e6)
        if micros == 1_000_000:
            whole, micros = whole + 1, 0
        head = seconds.get(whole)
        if head is None:
            head = seconds[whole] = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        append(f"{head}.{micros:06d}+00:00" if micros else f"{head}+00:00")
    return out


class _Batch:
    """A remembered batch of paths: their positions grouped by spec, and their series ids once asked for."""

    __slots__ = ("buckets", "ids", "series")

    def __init__(self, buckets: dict[int, list[int]]) -> None:
        self.buckets = buckets
        self.series: list[int] | None = None
        self.ids: Mapping[str, int] | None = None  # the table `series` was looked up in


class Mocker:
    """Seeded mock snapshots, single points and batches for the instances of a compiled model."""

    def __init__(self, instances: Instances, *, seed: int | None = None, reference: Mapping[str, Any] | None = None):
        self.instances = instances
        self.seed = seed
        self.rng = random.Random(seed)
        ranges = (reference or {}).get("value_range") or {}
        self._ranges: Mapping[str, Any] = ranges if isinstance(ranges, Mapping) else {}
        self._columns: dict[str, Column] = {}
        self._sticky: dict[str, Any] = {}  # attribute values by dp path: attributes change only on request
        self._plans: dict[bool, _Plan] = {}
        self._spec_index: tuple[dict[str, int], list[PointSpec]] | None = None
        self._batches: dict[tuple[str, ...], _Batch] = {}
        self._batched_paths = 0  # paths in the remembered batches
        self._batch_budget = max(_BATCH_CACHE_MIN_PATHS, 2 * len(instances.points))
        self._asset_index = {asset.path: i for i, asset in enumerate(instances.assets)}

    # ------------------------------------------------------------------ values
    def _column(self, spec: PointSpec) -> Column:
        column = self._columns.get(spec.type_path)
        if column is None:
            column = value_column(spec, self.rng, self._ranges.get(spec.type_path), self.seed)
            self._columns[spec.type_path] = column
        return column

    def _one(self, spec: PointSpec) -> Any:
        """One fresh value of a spec."""
        column = self._column(spec)
        return column.one() if isinstance(column, _Draw | _SeededFakerColumn) else column(1)[0]

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

    def _moments(self, spec: PointSpec, n: int, now_ts: float) -> list[float] | None:
        """Per-point moments within time_var seconds before now, or None when all are now."""
        time_var = spec.definition.time_var
        if not time_var:
            return None
        rand = self.rng.random
        return [now_ts - rand() * time_var for _ in range(n)]

    def _timestamps(self, spec: PointSpec, n: int, now_ts: float, now_iso: str) -> list[str] | None:
        """Per-point timestamps within time_var seconds before now, or None when all equal `now_iso`."""
        moments = self._moments(spec, n, now_ts)
        return None if moments is None else iso_utc(moments)

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
        # One point per HTTP request is the upstream-compatible route: skip the column machinery.
        definition = spec.definition
        if use_default and spec.default is not NO_DEFAULT:
            value = spec.default
        elif definition.category == ATTRIBUTE:
            value = self._sticky.get(dp_path, _NOTHING)
            if value is _NOTHING:
                value = self._sticky[dp_path] = self._one(spec)
        else:
            value = self._one(spec)
        moment = datetime.now(UTC) if now is None else _now(now)
        if definition.time_var:
            moment = datetime.fromtimestamp(moment.timestamp() - self.rng.random() * definition.time_var, UTC)
        unit = definition.unit
        if unit is None:
            return {"value": value, "timestamp": moment.isoformat()}
        return {"value": value, "timestamp": moment.isoformat(), "unit": unit}

    def values(self, dp_paths: Iterable[str], now: datetime | None = None) -> list[dict[str, Any] | None]:
        """DP objects for many paths in one batch (None for unknown paths), generated column-wise per spec."""
        paths = dp_paths if isinstance(dp_paths, list) else list(dp_paths)
        spec_ids, specs = self._spec_ids()
        out: list[dict[str, Any] | None] = [None] * len(paths)
        moment = _now(now)
        with _bulk():
            for spec_id, indexes in self._batch(paths, spec_ids).buckets.items():
                spec = specs[spec_id]
                count = len(indexes)
                group_paths = [paths[i] for i in indexes] if spec.category == ATTRIBUTE else [""] * count
                dps = self._dps(spec, group_paths, moment, True, False)
                deque(map(out.__setitem__, indexes, dps), maxlen=0)
        return out

    def columns(
        self, dp_paths: list[str], now: datetime | None = None, ids: Mapping[str, int] | None = None
    ) -> tuple[list[str], list[Any], list[str], list[str | None], list[int] | None]:
        """`values` as columns, without a dict per point: the known paths (in order) and their values, timestamps,
        units (None for a point without one) and, given `ids` (a series table's), their series ids."""
        spec_ids, specs = self._spec_ids()
        n = len(dp_paths)
        values: list[Any] = [None] * n
        stamps: list[Any] = [None] * n
        units: list[str | None] = [None] * n
        moment = _now(now)
        now_iso, now_ts = moment.isoformat(), moment.timestamp()
        known = 0
        moments: list[float] = []  # every spec's drawn moments, made into text in one column
        moment_rows: list[int] = []
        with _bulk():
            batch = self._batch(dp_paths, spec_ids)
            for spec_id, indexes in batch.buckets.items():
                spec = specs[spec_id]
                count = len(indexes)
                known += count
                group_paths = [dp_paths[i] for i in indexes] if spec.category == ATTRIBUTE else [""] * count
                deque(map(values.__setitem__, indexes, self._values(spec, group_paths, True, False)), maxlen=0)
                drawn = self._moments(spec, count, now_ts)
                if drawn is None:
                    deque(map(stamps.__setitem__, indexes, repeat(now_iso, count)), maxlen=0)
                else:
                    moments += drawn
                    moment_rows += indexes
                if spec.unit is not None:
                    deque(map(units.__setitem__, indexes, repeat(spec.unit, count)), maxlen=0)
            deque(map(stamps.__setitem__, moment_rows, iso_utc(moments)), maxlen=0)
        if known == n:
            series = None
            if ids is not None:  # the same batch comes back every round: its ids are looked up once
                if batch.series is None or batch.ids is not ids:
                    batch.series, batch.ids = list(map(ids.__getitem__, dp_paths)), ids
                series = list(batch.series)
            return list(dp_paths), values, stamps, units, series
        keep = [p in spec_ids for p in dp_paths]
        paths, kept_values, kept_stamps, kept_units = (
            [v for v, k in zip(column, keep, strict=True) if k] for column in (dp_paths, values, stamps, units)
        )
        series = None if ids is None else list(map(ids.__getitem__, paths))
        return paths, kept_values, kept_stamps, kept_units, series

    def _batch(self, paths: list[str], spec_ids: dict[str, int]) -> _Batch:
        """Positions of the known paths grouped by spec; remembered for a round of batches, as pollers repeat theirs."""
        key = tuple(paths)
        batch = self._batches.get(key)
        if batch is not None:
            return batch
        buckets: dict[int, list[int]] = {}
        for i, spec_id in enumerate(map(spec_ids.get, paths, repeat(-1))):
            bucket = buckets.get(spec_id)
            if bucket is None:
                bucket = buckets[spec_id] = []
            bucket.append(i)
        buckets.pop(-1, None)  # unknown paths stay None
        while self._batches and self._batched_paths + len(key) > self._batch_budget:
            oldest = next(iter(self._batches))
            del self._batches[oldest]
            self._batched_paths -= len(oldest)
        batch = self._batches[key] = _Batch(buckets)
        self._batched_paths += len(key)
        return batch

    def _spec_ids(self) -> tuple[dict[str, int], list[PointSpec]]:
        """Data-point path → small spec number, and the specs by number (built once)."""
        if self._spec_index is None:
            numbers: dict[str, int] = {}
            specs: list[PointSpec] = []
            spec_ids: dict[str, int] = {}
            for path, spec in self.instances.points.items():
                number = numbers.get(spec.type_path)
                if number is None:
                    number = numbers[spec.type_path] = len(specs)
                    specs.append(spec)
                spec_ids[path] = number
            self._spec_index = (spec_ids, specs)
        return self._spec_index

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
        ordered: list[Any] = [None] * len(plan.order)
        with _bulk():
            for group in plan.groups:
                for spec, paths, positions in zip(group.specs, group.paths, group.positions, strict=True):
                    dps = self._dps(spec, paths, moment, use_defaults, change_attrs)
                    deque(map(ordered.__setitem__, positions, dps), maxlen=0)
            return dict(zip(plan.order, ordered, strict=True))

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
        with _bulk():
            root, entities = self._skeleton(plan, dict.fromkeys)
            for group in plan.groups:
                # Scatter each point's column into one category dict per asset with map(setitem): the loop runs in C.
                cats: list[dict[str, Any]] = [{} for _ in group.indexes]
                for spec, paths, name in zip(group.specs, group.paths, group.names, strict=True):
                    dps = self._dps(spec, paths, moment, use_defaults, change_attrs)
                    deque(map(setitem, cats, repeat(name), dps), maxlen=0)
                owners = map(entities.__getitem__, group.indexes)
                deque(map(setitem, owners, repeat(group.category), cats), maxlen=0)
        return root

    def _skeleton(self, plan: _Plan, make: Callable) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The nested asset tree with each entity's category keys placed first (their values filled in later)."""
        root: dict[str, Any] = {}
        entities: list[dict[str, Any]] = []
        parents = plan.parents
        for i, asset in enumerate(self.instances.assets):
            entity = make(plan.categories[i])
            entities.append(entity)
            parent = root if parents[i] < 0 else entities[parents[i]]
            slot_map = parent.get(asset.slot.name)
            if slot_map is None:
                slot_map = parent[asset.slot.name] = {}
            slot_map[asset.id] = entity
        return root, entities

    def hierarchy(self) -> dict[str, Any]:
        """The hierarchy form: same nesting, each category a list of point names (points with defaults included)."""
        plan = self._plan(False)
        root, entities = self._skeleton(plan, dict.fromkeys)
        for group in plan.groups:
            for i in group.indexes:
                entities[i][group.category] = list(group.names)
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


@contextmanager
def _bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic dicts (it would rescan them often)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Group:
    """Assets of one slot that carry the same points of one category: generated together, transposed per asset."""

    __slots__ = ("category", "indexes", "names", "paths", "positions", "specs")

    def __init__(self, category: str, names: tuple[str, ...], specs: tuple[PointSpec, ...]) -> None:
        self.category = category
        self.names = names
        self.specs = specs
        self.indexes: list[int] = []
        self.paths: tuple[list[str], ...] = tuple([] for _ in names)
        self.positions: tuple[list[int], ...] = tuple([] for _ in names)  # of each path in the plan's order


class _Plan:
    """Precomputed layout of a snapshot: per asset its parent and categories, points grouped for column generation."""

    __slots__ = ("categories", "groups", "order", "parents")

    def __init__(self, instances: Instances, asset_index: dict[str, int], skip_defaults: bool) -> None:
        assets = instances.assets
        self.parents = [asset_index[a.parent] if a.parent else -1 for a in assets]
        # per asset: category -> [(name, spec, path)]
        per_asset: list[dict[str, list[tuple[str, PointSpec, str, int]]]] = [{} for _ in assets]
        order: list[str] = []
        for path, spec in instances.points.items():
            if skip_defaults and spec.has_default:
                continue
            category, name = spec.category, spec.name
            index = asset_index[path[: -len(category) - len(name) - 2]]
            per_asset[index].setdefault(category, []).append((name, spec, path, len(order)))
            order.append(path)
        groups: dict[tuple[str, str, tuple[str, ...]], _Group] = {}
        for index, (asset, by_category) in enumerate(zip(assets, per_asset, strict=True)):
            for category, entries in by_category.items():
                names = tuple(e[0] for e in entries)
                key = (asset.slot.type_path, category, names)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Group(category, names, tuple(e[1] for e in entries))
                group.indexes.append(index)
                for paths, positions, entry in zip(group.paths, group.positions, entries, strict=True):
                    paths.append(entry[2])
                    positions.append(entry[3])
        self.categories = [tuple(c for c in CATEGORIES if c in found) for found in per_asset]
        self.groups = list(groups.values())
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


def _now(now: datetime | None) -> datetime:
    """`now` as an aware UTC datetime (naive input is taken as UTC)."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


__all__ = ["OPEN_SPAN", "Mocker", "compact", "example", "value_column"]

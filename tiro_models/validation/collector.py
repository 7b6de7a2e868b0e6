"""The window collector: the latest DP per data-point path, ready to validate as a flat snapshot."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from tiro_models.errors import SnapshotError
from tiro_models.spec import CATEGORIES, PATH_SEP

_KNOWN_LIMIT = 1 << 21  # remembered dp paths (~2 M): a bound against a flood of distinct paths
_UNSET = object()  # a series with no sample in this window (None is a sample's value)


class _SeriesColumns:
    """The latest sample of each series id of one model, as columns indexed by id (no object per sample)."""

    __slots__ = ("paths", "stamps", "units", "values")

    def __init__(self, paths: Mapping[int, str]) -> None:
        self.paths = paths
        self.values: list[Any] = []
        self.stamps: list[Any] = []
        self.units: list[Any] = []

    def put(self, ids: list[int], values: list[Any], stamps: list[Any], units: list[Any]) -> None:
        if min(ids) < 0:  # a negative index would overwrite another series
            raise ValueError(f"series id {min(ids)} is negative")
        size = max(ids) + 1
        if size > len(self.values):
            grow = size - len(self.values)
            self.values += [_UNSET] * grow
            self.stamps += [None] * grow
            self.units += [None] * grow
        # C loops over the columns: the latest sample of an id overwrites the one before it
        deque(map(self.values.__setitem__, ids, values), maxlen=0)
        deque(map(self.stamps.__setitem__, ids, stamps), maxlen=0)
        deque(map(self.units.__setitem__, ids, units), maxlen=0)

    def points(self) -> dict[str, Any]:
        """{data-point path: DP object} of every id with a sample."""
        seen = [i for i, value in enumerate(self.values) if value is not _UNSET]
        dps = dp_objects([self.values[i] for i in seen], [self.stamps[i] for i in seen], [self.units[i] for i in seen])
        return dict(zip(map(self.paths.__getitem__, seen), dps, strict=True))


def dp_objects(values: list[Any], stamps: list[Any], units: list[Any]) -> list[dict[str, Any]]:
    """The DP objects of sample columns: `{value, timestamp}`, with `unit` where it is not None."""
    if units.count(None) == len(units):
        return [{"value": v, "timestamp": t} for v, t in zip(values, stamps, strict=True)]
    return [
        {"value": v, "timestamp": t, "unit": u} if u is not None else {"value": v, "timestamp": t}
        for v, t, u in zip(values, stamps, units, strict=True)
    ]


class Collector:
    """Latest DP per data-point path over a window (last write wins), ready to validate as a flat snapshot.

    Samples given by series id (`collect_series`) are kept as columns by id and become DP objects only in the
    snapshot; a path collected both by id and by path in one window keeps the sample that came by id."""

    __slots__ = ("_by_series", "_dp_paths", "_latest")

    def __init__(self) -> None:
        self._latest: dict[str, Any] = {}
        # Paths already seen to be data-point paths: the same ones come back every window.
        self._dp_paths: set[str] = set()
        self._by_series: dict[int, _SeriesColumns] = {}  # keyed by the id() of the path table they index

    def collect(self, path: str, dp: Any) -> None:
        """Keep `dp` at `path`: a full dp path with a DP, or a shorter path ("", asset, slot) with a sub-object."""
        if path in self._dp_paths:
            self._latest[path] = dp
            return
        # The common case first, without splitting: `<Type>.<id>(.<Type>.<id>)*.<Category>.<Name>`.
        dots = path.count(PATH_SEP)
        if dots >= 3 and dots % 2 and path.rpartition(PATH_SEP)[0].rpartition(PATH_SEP)[2] in CATEGORIES:
            self._latest[path] = dp
            if len(self._dp_paths) >= _KNOWN_LIMIT:
                self._dp_paths.clear()
            self._dp_paths.add(path)
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

    def collect_points(self, paths: list[str], dps: list[Any]) -> None:
        """`collect` of each (path, DP); data-point paths seen before in one pass."""
        if self._dp_paths.issuperset(paths):
            self._latest.update(zip(paths, dps, strict=True))
            return
        for path, dp in zip(paths, dps, strict=True):
            self.collect(path, dp)

    def collect_series(
        self, paths: Mapping[int, str], ids: list[int], values: list[Any], stamps: list[Any], units: list[Any]
    ) -> None:
        """Keep samples given as columns by series id, `paths` naming the data-point path of every one of the ids
        (a table that only grows: it is kept until the snapshot)."""
        if not ids:
            return
        columns = self._by_series.get(id(paths))  # (the columns hold the table: its id() is not reused meanwhile)
        if columns is None:
            columns = self._by_series[id(paths)] = _SeriesColumns(paths)
        columns.put(ids, values, stamps, units)

    def is_point_path(self, path: str) -> bool:
        """Whether `path` was collected as a data-point path in this window or an earlier one (by path)."""
        return path in self._dp_paths

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
        latest, known, collect = self._latest, self._dp_paths, self.collect
        for path, dp in items:
            if path in known:
                latest[path] = dp
            else:
                collect(path, dp)

    def snapshot(self) -> dict[str, Any]:
        """The collected points as a flat snapshot `{dp path: DP}` (a copy)."""
        flat = dict(self._latest)
        for columns in self._by_series.values():
            flat.update(columns.points())
        return flat

    def clear(self) -> None:
        """Forget everything collected (start a new window)."""
        self._latest.clear()
        self._by_series.clear()

    def __len__(self) -> int:
        if not self._by_series:
            return len(self._latest)
        return len(self.snapshot())

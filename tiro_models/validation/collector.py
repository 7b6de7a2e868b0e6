"""The window collector: the latest DP per data-point path, ready to validate as a flat snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tiro_models.errors import SnapshotError
from tiro_models.spec import CATEGORIES, PATH_SEP

_KNOWN_LIMIT = 1 << 21  # remembered dp paths (~2 M): a bound against a flood of distinct paths


class Collector:
    """Latest DP per data-point path over a window (last write wins), ready to validate as a flat snapshot."""

    __slots__ = ("_dp_paths", "_latest")

    def __init__(self) -> None:
        self._latest: dict[str, Any] = {}
        # Paths already seen to be data-point paths: the same ones come back every window.
        self._dp_paths: set[str] = set()

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
        return dict(self._latest)

    def clear(self) -> None:
        """Forget everything collected (start a new window)."""
        self._latest.clear()

    def __len__(self) -> int:
        return len(self._latest)

"""Flat `{dp path: DP}` snapshots to nested ones, once, or window after window reusing the last window's tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tiro_models.spec import CATEGORIES, PATH_SEP

# Where a point goes in the nested tree: its category dict (or a scratch dict for a bad path) and its name.
Slot = tuple[dict[str, Any], str]


def _group(flat: Mapping[str, Any], bad: list[str], slots: dict[str, Slot] | None) -> dict[str, dict[str, Any]]:
    """Points per "<asset path>.<Category>" prefix (one rpartition per point); non-string keys go to `bad`."""
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
        if slots is not None:
            slots[path] = (points, name)
    return by_prefix


def _attach(by_prefix: dict[str, dict[str, Any]], bad: list[str]) -> dict[str, Any]:
    """Nest each prefix's points dict once; points under a malformed prefix go to `bad`."""
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
    return root


def nest_flat(flat: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Nest a flat `{dp path: DP}` mapping; returns the nested snapshot and the keys that are not dp paths."""
    bad: list[str] = []
    root = _attach(_group(flat, bad, None), bad)
    return root, bad


class SnapshotNester:
    """Nests the flat snapshots of successive windows; a window holding the same paths as the last one refills the
    last one's tree (one lookup and one store per point) instead of building a new one.

    The returned tree is reused by the next call: use it before nesting the next window. Refilled trees keep the key
    order of the window they were built from, so errors come in the order the points first arrived."""

    __slots__ = ("_bad", "_slots", "_tree")

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        self._tree: dict[str, Any] = {}
        self._bad: list[str] = []

    def nest(self, flat: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The nested snapshot of `flat` and its keys that are not dp paths (as `nest_flat`)."""
        slots = self._slots
        if len(flat) == len(slots) and flat.keys() == slots.keys():
            for path, dp in flat.items():
                points, name = slots[path]
                points[name] = dp
            return self._tree, list(self._bad)
        bad: list[str] = []
        slots = {}
        by_prefix = _group(flat, bad, slots)
        non_string_keys = bool(bad)
        tree = _attach(by_prefix, bad)
        if non_string_keys:  # such a window is not worth remembering
            self._slots, self._tree, self._bad = {}, {}, []
        else:
            self._slots, self._tree, self._bad = slots, tree, bad
        return tree, list(bad)

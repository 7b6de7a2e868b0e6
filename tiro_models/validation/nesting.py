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


# The containers from the root down to a prefix's points dict: (container, key) pairs, the last (entity, category).
Chain = tuple[tuple[dict[str, Any], str], ...]


def _attach(
    by_prefix: dict[str, dict[str, Any]], bad: list[str], chains: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Nest each prefix's points dict once; points under a malformed prefix go to `bad`. With `chains`, remember
    each attached prefix's points dict and Chain there."""
    root: dict[str, Any] = {}
    assets: dict[str, tuple[dict[str, Any], Chain]] = {}  # asset path -> its entity dict and the Chain down to it
    for prefix, points in by_prefix.items():
        asset, _, category = prefix.rpartition(PATH_SEP)
        found = (assets.get(asset) or _entity(root, asset, assets)) if asset and category in CATEGORIES else None
        if found is None or category in found[0]:
            bad.extend(f"{prefix}{PATH_SEP}{name}" if prefix else name for name in points)
            continue
        entity, chain = found
        entity[category] = points
        if chains is not None:
            chains[prefix] = (points, (*chain, (entity, category)))
    return root


def _entity(
    root: dict[str, Any], asset: str, assets: dict[str, tuple[dict[str, Any], Chain]]
) -> tuple[dict[str, Any], Chain] | None:
    """The entity dict at `asset` ("Type.id" pairs) and its Chain, created as needed and remembered in `assets`
    (siblings then share their parents' walk); None for an odd number of segments or a path through a data point."""
    head, _, ident = asset.rpartition(PATH_SEP)
    if not head:
        return None
    parent_path, _, slot = head.rpartition(PATH_SEP)
    parent = (assets.get(parent_path) or _entity(root, parent_path, assets)) if parent_path else (root, ())
    if parent is None:
        return None
    entity, chain = parent
    slot_map = entity.setdefault(slot, {})
    if slot_map.__class__ is not dict:
        return None
    child = slot_map.setdefault(ident, {})
    if child.__class__ is not dict:
        return None
    found = assets[asset] = (child, (*chain, (entity, slot), (slot_map, ident)))
    return found


def nest_flat(flat: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Nest a flat `{dp path: DP}` mapping; returns the nested snapshot and the keys that are not dp paths."""
    bad: list[str] = []
    root = _attach(_group(flat, bad, None), bad)
    return root, bad


class SnapshotNester:
    """Nests the flat snapshots of successive windows into one tree kept between windows: a window holding the same
    paths as the last one refills it (one lookup and one store per point); a window with some paths more or fewer
    adds and removes just those; only a window unlike the last one (or with keys that are not dp paths) is nested
    from scratch.

    The returned tree is reused by the next call: use it before nesting the next window. Kept trees keep the key
    order of the windows they were built from, so errors come in the order the points first arrived."""

    __slots__ = ("_bad", "_prefixes", "_slots", "_tree")

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        self._prefixes: dict[str, tuple[dict[str, Any], Chain]] = {}
        self._tree: dict[str, Any] = {}
        self._bad: list[str] = []

    def nest(self, flat: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The nested snapshot of `flat` and its keys that are not dp paths (as `nest_flat`)."""
        slots = self._slots
        same = len(flat) == len(slots) and flat.keys() == slots.keys()
        if same or (slots and not self._bad and self._update(flat)):
            for path, dp in flat.items():
                points, name = slots[path]
                points[name] = dp
            return self._tree, list(self._bad)
        return self._rebuild(flat)

    def _rebuild(self, flat: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        bad: list[str] = []
        slots: dict[str, Slot] = {}
        prefixes: dict[str, Any] = {}
        by_prefix = _group(flat, bad, slots)
        non_string_keys = bool(bad)
        tree = _attach(by_prefix, bad, prefixes)
        if non_string_keys:  # such a window is not worth remembering
            self._slots, self._prefixes, self._tree, self._bad = {}, {}, {}, []
        else:
            self._slots, self._prefixes, self._tree, self._bad = slots, prefixes, tree, bad
        return tree, list(bad)

    def _update(self, flat: Mapping[str, Any]) -> bool:
        """Remove the kept tree's paths that `flat` lacks and add its new ones; False when a rebuild is simpler."""
        slots = self._slots
        stale = [path for path in slots if path not in flat]
        new = [path for path in flat if path not in slots]
        if 2 * (len(stale) + len(new)) > len(flat):
            return False
        for path in stale:
            self._remove(path)
        # a False leaves the tree half changed: the caller then rebuilds it from scratch
        return all(path.__class__ is str and self._add(path) for path in new)

    def _remove(self, path: str) -> None:
        points, name = self._slots.pop(path)
        del points[name]
        if points:
            return
        _, chain = self._prefixes.pop(path.rpartition(PATH_SEP)[0])
        for container, key in reversed(chain):  # drop the containers this left empty, as a fresh nesting has none
            del container[key]
            if container:
                break

    def _add(self, path: str) -> bool:
        prefix, _, name = path.rpartition(PATH_SEP)
        known = self._prefixes.get(prefix)
        if known is None:
            asset, _, category = prefix.rpartition(PATH_SEP)
            parts = asset.split(PATH_SEP)
            if not asset or category not in CATEGORIES or len(parts) % 2:
                return False
            if any(parts[i] in CATEGORIES for i in range(0, len(parts), 2)):
                return False  # could run through a category's data points: the rebuild reports it
            entity: Any = self._tree
            chain: list[tuple[Any, str]] = []
            for i in range(0, len(parts), 2):
                slot_map = entity.setdefault(parts[i], {})
                chain += ((entity, parts[i]), (slot_map, parts[i + 1]))
                entity = slot_map.setdefault(parts[i + 1], {}) if slot_map.__class__ is dict else None
                if entity.__class__ is not dict:
                    return False
            if category in entity:
                return False
            points: dict[str, Any] = {}
            entity[category] = points
            chain.append((entity, category))
            known = self._prefixes[prefix] = (points, tuple(chain))
        known[0][name] = None  # a place in the tree; the caller stores the DP
        self._slots[path] = (known[0], name)
        return True

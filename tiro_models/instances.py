"""Asset instances of a compiled model: upstream-compatible, reproducible asset ids and the flat data-point table."""

from __future__ import annotations

import gc
import random
import re
from collections.abc import Mapping
from typing import Any, Literal

from tiro_models.errors import InputError
from tiro_models.spec import CATEGORIES, PATH_SEP, Asset, Instances, Model, PointSpec, SlotSpec

Numbering = Literal["global", "per_parent"]

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WHITESPACE = re.compile(r"\s+")
# Keys of a reference tree entity that are not child slots.
_REFERENCE_POINTS_KEY = "DataPoints"


def snake_name(name: str) -> str:
    """Snake-case a slot name the way upstream names ids (`DataHall`→`data_hall`, `UPSUnit`→`ups_unit`)."""
    # Unlike upstream, underscores and their prefixes are kept (`Data_Hall` → `data_hall`, not `hall`),
    # and whitespace becomes `_` so ids never contain spaces.
    return _WHITESPACE.sub("_", _CAMEL_BOUNDARY.sub("_", name.strip())).lower()


def instantiate(
    model: Model,
    *,
    seed: int | None = None,
    numbering: Numbering = "global",
    reference: Mapping[str, Any] | None = None,
) -> Instances:
    """Create every asset instance of `model` and the table of its required data-point paths (depth first)."""
    if numbering not in ("global", "per_parent"):
        raise ValueError(f"numbering must be 'global' or 'per_parent', not {numbering!r}")
    builder = _Builder(random.Random(seed), numbering == "global")
    tree = None
    if reference is not None and reference.get("tree") is not None:
        tree = reference["tree"]
        if not isinstance(tree, Mapping):
            raise InputError("reference 'tree' must be a mapping of Type → {id: entity}")
    # Building creates many tracked objects and no cycles: the cyclic GC would only rescan them again and again.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        builder.children("", model.roots, tree)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Instances(model=model, assets=builder.assets, points=builder.points)


class _Builder:
    """Depth-first instance builder: draws counts, names assets and records their data-point paths."""

    __slots__ = ("assets", "global_counters", "points", "rng", "suffixes")

    def __init__(self, rng: random.Random, global_numbering: bool) -> None:
        self.rng = rng
        self.assets: list[Asset] = []
        self.points: dict[str, PointSpec] = {}
        self.global_counters: dict[str, int] | None = {} if global_numbering else None
        self.suffixes: dict[str, tuple[list[str], list[str], list[PointSpec]]] = {}

    def children(self, parent: str, slots: Mapping[str, SlotSpec], tree: Mapping[str, Any] | None) -> None:
        """Instantiate every child slot of one parent asset (or of the root when parent is "")."""
        local_counters: dict[str, int] = {}
        for slot in slots.values():
            if tree is not None:
                subtree = tree.get(slot.name)
                if subtree is None:
                    continue  # a reference without this subtree means zero children
                if not isinstance(subtree, Mapping):
                    raise InputError(f"reference tree at {_join(parent, slot.name)} must map ids to entities")
                for asset_id, entity in subtree.items():
                    entity = entity if isinstance(entity, Mapping) else {}
                    self.asset(parent, slot, str(asset_id), entity)
                continue
            for asset_id in self.ids(slot, local_counters):
                self.asset(parent, slot, asset_id, None)

    def ids(self, slot: SlotSpec, local_counters: dict[str, int]) -> list[str]:
        """The ids of one slot under one parent instance, drawing `$number` ranges from the seeded generator."""
        low, high = slot.number
        count = low if low == high else self.rng.randint(low, high)
        if slot.ids is not None:
            return list(slot.ids[:count])
        stem = snake_name(slot.name)
        counters = self.global_counters if self.global_counters is not None else local_counters
        start = counters.get(stem, 0)
        counters[stem] = start + count
        return [f"{stem}_{n}" for n in range(start, start + count)]

    def asset(self, parent: str, slot: SlotSpec, asset_id: str, entity: Mapping[str, Any] | None) -> None:
        """Record one asset, its data points, then its children (depth first)."""
        path = f"{_join(parent, slot.name)}{PATH_SEP}{asset_id}"
        self.assets.append(Asset(path=path, id=asset_id, slot=slot, parent=parent))
        points = self.points
        allowed = None
        if entity is not None and entity.get(_REFERENCE_POINTS_KEY) is not None:
            allowed = set(entity[_REFERENCE_POINTS_KEY])
        suffixes, names, specs = self._suffixes(slot)
        if allowed is None:
            points.update(zip(map(path.__add__, suffixes), specs, strict=True))  # C-level loop: this is the hot path
        else:
            for suffix, name, spec in zip(suffixes, names, specs, strict=True):
                if name in allowed:
                    points[path + suffix] = spec
        if slot.children:
            self.children(path, slot.children, entity)

    def _suffixes(self, slot: SlotSpec) -> tuple[list[str], list[str], list[PointSpec]]:
        """`.Category.Name` suffixes, names and specs of a slot's points, computed once per slot."""
        cached = self.suffixes.get(slot.type_path)
        if cached is None:
            suffixes: list[str] = []
            for name, spec in slot.points.items():
                if spec.category not in CATEGORIES:
                    raise InputError(f"point {spec.type_path} has unknown category {spec.category!r}")
                suffixes.append(f"{PATH_SEP}{spec.category}{PATH_SEP}{name}")
            cached = (suffixes, list(slot.points), list(slot.points.values()))
            self.suffixes[slot.type_path] = cached
        return cached


def _join(parent: str, name: str) -> str:
    return f"{parent}{PATH_SEP}{name}" if parent else name

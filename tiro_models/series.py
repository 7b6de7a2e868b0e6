"""Series ids: a stable integer per data point of a model's instances, and the fingerprint of the table they index.

Ids number the data-point paths in sorted order, so the same scenario, uses and library (instantiated the same way)
give the same ids in every process. The fingerprint hashes every (path, unit, category, type path) row with the
numbering scheme: two tables that could label a sample differently never share one, so a receiver compares
fingerprints instead of trusting an id from another model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from tiro_models.spec import Instances

SCHEME = "tiro.series/1"
MODELS_REMEMBERED = 4  # models whose ids a receiver remembers what it learned of at a time (a site runs one)
IDS_REMEMBERED = 1 << 21  # ids of one model a receiver remembers (~2 M: a 10^6-point hall fits)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SeriesTable:
    """The ids of a model's data points: `paths[id]` is the path of an id, `ids[path]` the id of a path."""

    fingerprint: str
    paths: tuple[str, ...]
    ids: Mapping[str, int] = field(repr=False)


def series_table(instances: Instances) -> SeriesTable:
    """The series ids and fingerprint of a model's instances."""
    paths = tuple(sorted(instances.points))
    digest = hashlib.blake2b(SCHEME.encode(), digest_size=12)
    for path in paths:
        spec = instances.points[path]
        digest.update(f"\n{path}\t{spec.unit or ''}\t{spec.category}\t{spec.type_path}".encode())
    return SeriesTable(f"{SCHEME}:{digest.hexdigest()}", paths, {path: i for i, path in enumerate(paths)})


class SeriesMemory(Generic[T]):
    """What a receiver learned of each series id from the paths that came with it, per model fingerprint.

    Within one model an id stands for one path, so what a frame's own paths taught holds for every later frame of that
    model: a receiver looks the ids up instead of hashing path strings. Bounded: at most MODELS_REMEMBERED models and
    `limit` ids each (beyond either, it forgets and learns again)."""

    __slots__ = ("_by_model", "_limit")

    def __init__(self, limit: int = IDS_REMEMBERED) -> None:
        self._by_model: dict[str, dict[int, T]] = {}
        self._limit = limit

    def of_model(self, model: str) -> Mapping[int, T]:
        """What is known of `model`'s ids (empty when nothing); the mapping only grows until `forget`."""
        known = self._by_model.get(model)
        return known if known is not None else cast(Mapping[int, T], _NOTHING)

    def knows_all(self, model: str, ids: list[int]) -> bool:
        """Whether every id of `ids` is known for `model`."""
        known = self._by_model.get(model)
        return known is not None and all(map(known.__contains__, ids))

    def lookup(self, model: str, ids: list[int]) -> list[T] | None:
        """What is known of each id, when every one is known (None otherwise)."""
        known = self._by_model.get(model)
        if known is None:
            return None
        found = list(map(known.get, ids))
        return None if None in found else found  # type: ignore[return-value]

    def learn(self, model: str, pairs: Iterable[tuple[int, T]]) -> None:
        """Remember (id, what it stands for) pairs of `model`, learned from a frame's own paths."""
        known = self._by_model.get(model)
        if known is None or len(known) >= self._limit:
            if known is None and len(self._by_model) >= MODELS_REMEMBERED:
                self._by_model.clear()
            known = self._by_model[model] = {}  # a fresh mapping: holders of the old one keep it intact
        known.update(pairs)

    def forget(self) -> None:
        """Forget every model (what was learned no longer holds)."""
        self._by_model.clear()

    def __len__(self) -> int:
        return sum(map(len, self._by_model.values()))


_NOTHING: Mapping[int, object] = {}

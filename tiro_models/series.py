"""Series ids: a stable integer per data point of a model's instances, and the fingerprint of the table they index.

Ids number the data-point paths in sorted order, so the same scenario, uses and library (instantiated the same way)
give the same ids in every process. The fingerprint hashes every (path, unit, category, type path) row with the
numbering scheme: two tables that could label a sample differently never share one, so a receiver compares
fingerprints instead of trusting an id from another model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from tiro_models.spec import Instances

SCHEME = "tiro.series/1"
MODELS_REMEMBERED = 4  # models whose ids a receiver remembers what it learned of at a time (a site runs one)


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

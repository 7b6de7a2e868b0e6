"""Data-point, asset and type paths, and the %-patterns that select type paths (upstream semantics, separator ".").

Vocabulary (tiro-upstream §3.1):
- asset path: type/id pairs, ``DataHall.data_hall_0.CRAC.crac_0``;
- data-point path: asset path + category + name, ``DataHall.data_hall_0.CRAC.crac_0.Telemetry.ReturnTemperature``;
- type path: the types only, plus the point name for a data point, ``DataHall.CRAC.ReturnTemperature``.

Segments are never escaped (as upstream), so a type, id or name must not contain ".": joining such a segment raises.
A path whose second-to-last segment is `Telemetry`/`Attribute` is read as a data-point path, so asset types must not be
named like a category (records.decompose rejects them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from tiro_models.errors import InputError, SnapshotError
from tiro_models.spec import ATTRIBUTE, CATEGORIES, PATH_SEP, TELEMETRY

__all__ = [
    "ATTRIBUTE",
    "CATEGORIES",
    "PATH_SEP",
    "TELEMETRY",
    "asset_pairs",
    "asset_path_of",
    "asset_type_path",
    "compile_pattern",
    "data_point_path",
    "format_regex",
    "is_data_point_path",
    "join",
    "join_asset_path",
    "match_type_paths",
    "parent_asset_path",
    "short_path",
    "split",
    "split_dp_path",
    "type_path_of",
]

_CATEGORY_SET = frozenset(CATEGORIES)


def split(path: str) -> list[str]:
    """The segments of a path; the empty path (the root) has none."""
    return path.split(PATH_SEP) if path else []


def join(*parts: str) -> str:
    """Join path parts with ".", skipping empty parts (so joining onto the root "" gives the part itself)."""
    return PATH_SEP.join(p for p in parts if p)


def _check_segments(path: str, segments: list[str]) -> None:
    if "" in segments:
        raise SnapshotError(f"malformed path {path!r}: empty segment")


def asset_pairs(asset_path: str) -> list[tuple[str, str]]:
    """The (type, id) pairs of an asset path, root first; raises SnapshotError when the path is not pairs."""
    segments = split(asset_path)
    if len(segments) % 2:
        raise SnapshotError(
            f"malformed asset path {asset_path!r}: expected Type.id pairs, got {len(segments)} segments"
        )
    _check_segments(asset_path, segments)
    return list(zip(segments[::2], segments[1::2], strict=True))


def join_asset_path(pairs: Iterable[tuple[str, str]]) -> str:
    """The asset path of (type, id) pairs; a segment containing "." or an empty one raises SnapshotError."""
    out: list[str] = []
    for type_name, asset_id in pairs:
        for segment in (type_name, asset_id):
            if not segment or PATH_SEP in segment:
                raise SnapshotError(f"invalid path segment {segment!r}: must be non-empty and contain no {PATH_SEP!r}")
        out.append(type_name)
        out.append(asset_id)
    return PATH_SEP.join(out)


def asset_type_path(asset_path: str) -> str:
    """The type path of an asset path: `DataHall.data_hall_0.Rack.rack_1` -> `DataHall.Rack`."""
    segments = split(asset_path)
    if len(segments) % 2:
        raise SnapshotError(
            f"malformed asset path {asset_path!r}: expected Type.id pairs, got {len(segments)} segments"
        )
    _check_segments(asset_path, segments)
    return PATH_SEP.join(segments[::2])


def split_dp_path(dp_path: str) -> tuple[str, str, str]:
    """Split a data-point path into (asset path, category, name); raises SnapshotError naming a malformed path."""
    asset_path, sep, rest = dp_path.rpartition(PATH_SEP)
    name = rest
    asset_path, sep2, category = asset_path.rpartition(PATH_SEP)
    if not sep or not sep2 or category not in _CATEGORY_SET:
        raise SnapshotError(
            f"malformed data-point path {dp_path!r}: expected <Type>.<id>(.<Type>.<id>)*.<Telemetry|Attribute>.<name>"
        )
    segments = asset_path.split(PATH_SEP)
    if len(segments) % 2 or "" in segments or not name:
        raise SnapshotError(
            f"malformed data-point path {dp_path!r}: expected <Type>.<id>(.<Type>.<id>)*.<Telemetry|Attribute>.<name>"
        )
    return asset_path, category, name


def is_data_point_path(path: str) -> bool:
    """True when the path has the shape of a data-point path (its second-to-last segment is a category)."""
    segments = split(path)
    return len(segments) >= 4 and len(segments) % 2 == 0 and segments[-2] in _CATEGORY_SET


def data_point_path(asset_path: str, category: str, name: str) -> str:
    """The data-point path of a point of an asset."""
    if category not in _CATEGORY_SET:
        raise SnapshotError(f"unknown category {category!r} for {asset_path}.{name}: expected one of {CATEGORIES}")
    if not name or PATH_SEP in name:
        raise SnapshotError(
            f"invalid data-point name {name!r} under {asset_path}: must be non-empty without {PATH_SEP!r}"
        )
    return f"{asset_path}{PATH_SEP}{category}{PATH_SEP}{name}"


def asset_path_of(dp_path: str) -> str:
    """The asset path of a data-point path (the part before the category)."""
    return split_dp_path(dp_path)[0]


def type_path_of(path: str) -> str:
    """Type path of a data-point path (`DataHall.CRAC.ReturnTemperature`) or of an asset path (`DataHall.CRAC`)."""
    if is_data_point_path(path):
        asset_path, _category, name = split_dp_path(path)
        return f"{asset_type_path(asset_path)}{PATH_SEP}{name}"
    return asset_type_path(path)


def short_path(dp_path: str) -> str:
    """A data-point path without its category segment, the form reference files use (`…crac_0.ActivePower`)."""
    asset_path, _category, name = split_dp_path(dp_path)
    return f"{asset_path}{PATH_SEP}{name}"


def parent_asset_path(asset_path: str) -> str:
    """The parent's asset path ("" for a top-level asset)."""
    segments = split(asset_path)
    if len(segments) < 2 or len(segments) % 2:
        raise SnapshotError(f"malformed asset path {asset_path!r}: expected Type.id pairs")
    return PATH_SEP.join(segments[:-2])


def format_regex(pattern: str) -> str:
    """Regex text of a %-pattern, as upstream: `%%` -> `.*`, then `%` -> `\\.`, anchored with ^ and $."""
    return "^" + pattern.replace("%%", ".*").replace("%", "\\.") + "$"


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled regex of a %-pattern (cached); raises InputError naming a pattern that is not a valid regex."""
    try:
        return re.compile(format_regex(pattern))
    except re.error as exc:
        raise InputError(f"invalid %-pattern {pattern!r}: {exc}") from None


def match_type_paths(pattern: str, type_paths: Iterable[str]) -> list[str]:
    """The type paths, in input order, that the %-pattern matches in full."""
    fullmatch = compile_pattern(pattern).fullmatch
    return [p for p in type_paths if fullmatch(p)]

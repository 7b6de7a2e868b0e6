"""Snapshots as flat data-point records (tiro-upstream §3.4), and the flat, nested and compact snapshot forms (§3.2).

A record is one data point with its tags, key order as upstream:
``{"path": type path, "asset_path": asset path, <Type>: id for every pair, "type": category, "field": name,
"value": v, "timestamp": as given, "unit": only if present, other DP keys}``.

Fix of an upstream collision: an asset type named like a record key (path, asset_path, type, field, value, unit,
timestamp) used to overwrite that key silently; here it raises SnapshotError naming the path. So does a DP key that
would overwrite a tag (e.g. a DP carrying its own "path"). When one type occurs twice along a path (`Zone.a.Zone.b`),
the tag holds the deepest id; `asset_path` keeps them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tiro_models.errors import SnapshotError
from tiro_models.paths import split_dp_path
from tiro_models.spec import CATEGORIES, PATH_SEP

__all__ = [
    "RESERVED_KEYS",
    "decompose",
    "decompose_point",
    "flatten",
    "is_row_dp",
    "nest",
    "point_tags",
    "record_point",
    "to_compact",
]

# Keys of a record that are not asset-type tags; an asset type with one of these names would collide.
RESERVED_KEYS = frozenset({"path", "asset_path", "type", "field", "value", "unit", "timestamp"})
_CATEGORY_SET = frozenset(CATEGORIES)
_PLAIN_DP_KEYS = frozenset({"value", "timestamp", "unit"})


def is_row_dp(dp: Any) -> bool:
    """Whether a DP object is exactly what a row of columns holds: a value, a timestamp and a unit that is not
    null (or none), nothing else."""
    return (
        dp.__class__ is dict
        and "value" in dp
        and "timestamp" in dp
        and dp.keys() <= _PLAIN_DP_KEYS
        and ("unit" not in dp or dp["unit"] is not None)
    )


def record_point(record: Mapping[str, Any]) -> tuple[str, str, str]:
    """(asset path, category, name) of a flat record; SnapshotError naming the record when a key is missing."""
    try:
        return record["asset_path"], record["type"], record["field"]
    except KeyError as exc:
        raise SnapshotError(f"record {dict(record)!r}"[:200] + f": missing key {exc.args[0]!r}") from None


def _shape_error(path: str, expected: str, got: Any) -> SnapshotError:
    where = path or "<root>"
    return SnapshotError(f"{where}: expected {expected}, got {type(got).__name__}")


def _check_type_name(type_name: Any, path: str) -> None:
    if not isinstance(type_name, str) or not type_name or PATH_SEP in type_name:
        raise SnapshotError(f"{path or '<root>'}: invalid asset type {type_name!r} (non-empty, no {PATH_SEP!r})")
    if type_name in RESERVED_KEYS:
        raise SnapshotError(
            f"{path or '<root>'}: asset type {type_name!r} collides with the record key of the same name;"
            f" rename the slot (reserved: {', '.join(sorted(RESERVED_KEYS))})"
        )
    if type_name in _CATEGORY_SET:
        raise SnapshotError(f"{path or '<root>'}: {type_name!r} is a category, not an asset type")


def _check_segment(segment: Any, path: str, what: str) -> None:
    if not isinstance(segment, str) or not segment or PATH_SEP in segment:
        raise SnapshotError(f"{path or '<root>'}: invalid {what} {segment!r} (non-empty string without {PATH_SEP!r})")


class _Asset:
    """The tags shared by every data point of one asset: computed once per asset, not per point."""

    __slots__ = ("asset_path", "ids", "type_prefix")

    def __init__(self, asset_path: str, type_prefix: str, ids: dict[str, str]) -> None:
        self.asset_path = asset_path
        self.type_prefix = type_prefix  # type path of the asset plus a trailing "."
        self.ids = ids

    def child(self, type_name: str, asset_id: str) -> _Asset:
        """The tags of a child asset."""
        ids = dict(self.ids)
        ids.pop(type_name, None)  # the deepest id wins, and keeps upstream key order for the rest
        ids[type_name] = asset_id
        own = f"{type_name}{PATH_SEP}{asset_id}"
        asset_path = f"{self.asset_path}{PATH_SEP}{own}" if self.asset_path else own
        return _Asset(asset_path, f"{self.type_prefix}{type_name}{PATH_SEP}", ids)


_ROOT = _Asset("", "", {})


def _tags(asset: _Asset, category: str, name: str) -> dict[str, Any]:
    tags: dict[str, Any] = {"path": asset.type_prefix + name, "asset_path": asset.asset_path}
    tags.update(asset.ids)
    tags["type"] = category
    tags["field"] = name
    return tags


def _complete(record: dict[str, Any], dp: Any) -> dict[str, Any]:
    """Merge the DP object (or bare value) into a record holding the tags."""
    if isinstance(dp, dict):
        if dp.keys() <= _PLAIN_DP_KEYS:
            record.update(dp)
        else:
            for key, value in dp.items():
                if key in record and key not in _PLAIN_DP_KEYS:
                    where = f"{record['asset_path']}.{record['type']}.{record['field']}"
                    raise SnapshotError(f"{where}: data-point key {key!r} would overwrite the record tag")
                record[key] = value
    else:
        record["value"] = dp
    return record


def _record(asset: _Asset, category: str, name: str, dp: Any) -> dict[str, Any]:
    return _complete(_tags(asset, category, name), dp)


# Tags by data-point path: single-point messages (the Karez path) repeat the same few paths every interval.
_TAGS_CACHE_LIMIT = 131_072
_dp_tags_cache: dict[str, dict[str, Any]] = {}


def _dp_tags(dp_path: str) -> dict[str, Any]:
    tags = _dp_tags_cache.get(dp_path)
    if tags is None:
        segments = dp_path.split(PATH_SEP)
        n = len(segments)
        if n < 4 or n % 2 or segments[-2] not in _CATEGORY_SET or "" in segments:
            expected = "<Type>.<id>(.<Type>.<id>)*.<Telemetry|Attribute>.<name>"
            raise SnapshotError(f"malformed data-point path {dp_path!r}: expected {expected}")
        asset = _asset_from_segments(dp_path, segments[:-2])
        tags = _tags(asset, segments[-2], segments[-1])
        if len(_dp_tags_cache) >= _TAGS_CACHE_LIMIT:
            _dp_tags_cache.clear()
        _dp_tags_cache[dp_path] = tags
    return tags


def point_tags(dp_path: str) -> dict[str, Any]:
    """The tags of a data-point path (cached and shared: copy before changing); SnapshotError when malformed."""
    return _dp_tags(dp_path)


def decompose_point(dp_path: str, dp: Any) -> dict[str, Any]:
    """The record of one data point given by its data-point path and DP object (or bare value)."""
    return _complete(_dp_tags(dp_path).copy(), dp)


def _points(asset: _Asset, category: str, points: Any, path: str) -> Iterator[dict[str, Any]]:
    if not isinstance(points, dict):
        raise _shape_error(path, f"an object of {category} data points", points)
    for name, dp in points.items():
        _check_segment(name, path, "data-point name")
        yield _record(asset, category, name, dp)


def _entity(asset: _Asset, entity: Any, path: str) -> Iterator[dict[str, Any]]:
    if not isinstance(entity, dict):
        raise _shape_error(path, "an asset object", entity)
    for key, value in entity.items():
        if key in _CATEGORY_SET:
            yield from _points(asset, key, value, f"{path}{PATH_SEP}{key}")
        else:
            yield from _type_group(asset, key, value, f"{path}{PATH_SEP}{key}" if path else key)


def _type_group(parent: _Asset, type_name: Any, group: Any, path: str) -> Iterator[dict[str, Any]]:
    _check_type_name(type_name, path)
    if not isinstance(group, dict):
        raise _shape_error(path, f"an object of {type_name} assets by id", group)
    for asset_id, entity in group.items():
        _check_segment(asset_id, path, "asset id")
        yield from _entity(parent.child(type_name, asset_id), entity, f"{path}{PATH_SEP}{asset_id}")


# Assets by asset path: the data points of one asset, and the assets under one parent, share their chain of tags.
_ASSET_CACHE_LIMIT = 65_536
_asset_cache: dict[tuple[str, ...], _Asset] = {}


def _asset_from_segments(path: str, segments: list[str]) -> _Asset:
    key = tuple(segments)
    asset = _asset_cache.get(key)
    if asset is not None:
        return asset
    # start from the deepest cached ancestor (usually the parent: a rack's servers come one after the other)
    start = len(segments) - 2
    while start > 0 and (asset := _asset_cache.get(key[:start])) is None:
        start -= 2
    if start <= 0 or asset is None:
        asset, start = _ROOT, 0
    for i in range(start, len(segments), 2):
        _check_type_name(segments[i], path)
        _check_segment(segments[i + 1], path, "asset id")
        asset = asset.child(segments[i], segments[i + 1])
        if len(_asset_cache) >= _ASSET_CACHE_LIMIT:
            _asset_cache.clear()
        _asset_cache[key[: i + 2]] = asset
    return asset


def decompose(path: str, value: Any) -> Iterator[dict[str, Any]]:
    """Flat records of every data point under `path`: "" + snapshot, asset path + asset, `….Telemetry` + points,
    a type path prefix (`….Rack`) + assets by id, or a data-point path + DP object (or a bare value)."""
    segments = path.split(PATH_SEP) if path else []
    n = len(segments)
    if "" in segments:
        raise SnapshotError(f"malformed path {path!r}: empty segment")
    if n >= 4 and n % 2 == 0 and segments[-2] in _CATEGORY_SET:
        yield decompose_point(path, value)
    elif n % 2 == 0:
        asset = _asset_from_segments(path, segments)
        if n == 0:
            if not isinstance(value, dict):
                raise _shape_error(path, "a snapshot object keyed by asset type", value)
            for type_name, group in value.items():
                yield from _type_group(_ROOT, type_name, group, type_name if isinstance(type_name, str) else "")
        else:
            yield from _entity(asset, value, path)
    elif segments[-1] in _CATEGORY_SET:
        if n < 3:
            raise SnapshotError(f"malformed path {path!r}: a category needs an asset path before it")
        yield from _points(_asset_from_segments(path, segments[:-1]), segments[-1], value, path)
    else:
        yield from _type_group(_asset_from_segments(path, segments[:-1]), segments[-1], value, path)


def flatten(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The flat form `{data-point path: DP}` of a nested snapshot, in snapshot order."""
    flat: dict[str, Any] = {}

    def entity(prefix: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise _shape_error(prefix, "an asset object", obj)
        for key, value in obj.items():
            if key in _CATEGORY_SET:
                if not isinstance(value, dict):
                    raise _shape_error(f"{prefix}.{key}", f"an object of {key} data points", value)
                for name, dp in value.items():
                    _check_segment(name, f"{prefix}.{key}", "data-point name")
                    flat[f"{prefix}.{key}.{name}"] = dp
            else:
                group(prefix, key, value)

    def group(prefix: str, type_name: Any, obj: Any) -> None:
        where = f"{prefix}.{type_name}" if prefix else str(type_name)
        _check_segment(type_name, where, "asset type")
        if not isinstance(obj, dict):
            raise _shape_error(where, f"an object of {type_name} assets by id", obj)
        for asset_id, child in obj.items():
            _check_segment(asset_id, where, "asset id")
            entity(f"{where}.{asset_id}", child)

    if not isinstance(snapshot, dict):
        raise _shape_error("", "a snapshot object keyed by asset type", snapshot)
    for type_name, obj in snapshot.items():
        group("", type_name, obj)
    return flat


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The nested snapshot of a flat `{data-point path: DP}` mapping (inverse of `flatten`)."""
    snapshot: dict[str, Any] = {}
    for dp_path, dp in flat.items():
        asset_path, category, name = split_dp_path(dp_path)
        node = snapshot
        segments = asset_path.split(PATH_SEP)
        for i in range(0, len(segments), 2):
            group = node.setdefault(segments[i], {})
            node = group.setdefault(segments[i + 1], {})
            if not isinstance(node, dict):
                raise SnapshotError(f"{dp_path}: conflicts with another entry at {'.'.join(segments[: i + 2])}")
        points = node.setdefault(category, {})
        points[name] = dp
    return snapshot


def to_compact(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The compact form `{Type: {id: {ChildType: {...}, Name: value}}}`: categories merged, only values kept."""

    def entity(path: str, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise _shape_error(path, "an asset object", obj)
        out: dict[str, Any] = {}
        for key, value in obj.items():
            if key in _CATEGORY_SET:
                if not isinstance(value, dict):
                    raise _shape_error(f"{path}.{key}", f"an object of {key} data points", value)
                for name, dp in value.items():
                    if name in out:
                        raise SnapshotError(f"{path}.{key}.{name}: name used twice, the compact form cannot hold both")
                    out[name] = dp.get("value") if isinstance(dp, dict) else dp
            else:
                if key in out:
                    raise SnapshotError(f"{path}.{key}: name used twice, the compact form cannot hold both")
                out[key] = group(f"{path}.{key}", value)
        return out

    def group(path: str, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise _shape_error(path, "an object of assets by id", obj)
        return {asset_id: entity(f"{path}.{asset_id}", child) for asset_id, child in obj.items()}

    if not isinstance(snapshot, dict):
        raise _shape_error("", "a snapshot object keyed by asset type", snapshot)
    return {type_name: group(str(type_name), obj) for type_name, obj in snapshot.items()}

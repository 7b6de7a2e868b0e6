"""Tiro's frame schemas (karez.frames): a mock server's data points, and the flat records `tiro_preprocess` makes.

Both have the columns `path` (data-point path), `value`, `timestamp` and `unit` (None where a point has none), and
may have `series`, each path's id in the model their header names (`tiro_models.series`, `karez.frames`):

- `tiro.points`: samples as collected, timestamps as the source gave them; a row is the upstream item
  `{path, result: {value, timestamp[, unit]}}`.
- `tiro.records`: the same samples with epoch-second timestamps and well-formed paths; a row is the flat record
  `tiro_preprocess` makes of such an item (its tags come from the path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from karez.frames import COLUMNS_KEY, FrameSchema, make_frame, register_schema
from karez.routing import META_KEY
from tiro_models.records import decompose_point, is_row_dp

__all__ = ["COLUMNS", "POINTS", "RECORDS", "column_frames", "points_frames", "samples"]

COLUMNS = ("path", "value", "timestamp", "unit")


def samples(frame: dict[str, Any], indices: Iterable[int] | None = None) -> Iterable[tuple[str, dict[str, Any]]]:
    """(path, DP object) of the rows at `indices` (all when None)."""
    columns = frame[COLUMNS_KEY]
    paths, values, stamps, units = (columns[name] for name in COLUMNS)
    for i in range(len(paths)) if indices is None else indices:
        dp = {"value": values[i], "timestamp": stamps[i]}
        if units[i] is not None:
            dp["unit"] = units[i]
        yield paths[i], dp


def _point_rows(frame: dict[str, Any], indices: Iterable[int] | None) -> list[dict[str, Any]]:
    return [{"path": path, "result": dp} for path, dp in samples(frame, indices)]


def _record_rows(frame: dict[str, Any], indices: Iterable[int] | None) -> list[dict[str, Any]]:
    return [decompose_point(path, dp) for path, dp in samples(frame, indices)]


POINTS = register_schema(FrameSchema("tiro.points", COLUMNS, _point_rows))
RECORDS = register_schema(FrameSchema("tiro.records", COLUMNS, _record_rows))


def points_frames(points: dict[str, Any], category_of: Callable[[str], str]) -> list[dict[str, Any]]:
    """A batch answer `{path: DP}` as `tiro.points` frames, one per category, followed by the items of any DP that
    a row cannot hold (not an object, without value or timestamp, other keys, an explicit null unit)."""
    paths = list(points)
    dps = list(points.values())
    n = len(dps)
    try:
        values = [dp["value"] for dp in dps]
        stamps = [dp["timestamp"] for dp in dps]
        units = [dp.get("unit") for dp in dps]
        plain = sum(map(len, dps)) == 2 * n + n - units.count(None)  # no key beyond value, timestamp, a unit
    except (TypeError, KeyError, AttributeError):
        plain = False
    odd: list[dict[str, Any]] = []
    if not plain:
        keep = list(map(is_row_dp, dps))
        odd = [
            {"path": p, "result": dp, META_KEY: {"category": category_of(p)}}
            for p, dp, k in zip(paths, dps, keep, strict=True)
            if not k
        ]
        paths = [p for p, k in zip(paths, keep, strict=True) if k]
        dps = [dp for dp, k in zip(dps, keep, strict=True) if k]
        values = [dp["value"] for dp in dps]
        stamps = [dp["timestamp"] for dp in dps]
        units = [dp.get("unit") for dp in dps]
    columns = {"path": paths, "value": values, "timestamp": stamps, "unit": units}
    return column_frames(columns, list(map(category_of, paths))) + odd


def column_frames(
    columns: dict[str, list[Any]], categories: list[str], model: str | None = None
) -> list[dict[str, Any]]:
    """Samples given as the columns of `tiro.points` (equal lengths, paths are strings; a `series` column of ids in
    the table `model` names) as frames, one per category (`categories`: each row's)."""
    distinct = dict.fromkeys(categories)
    if len(distinct) <= 1:
        return [make_frame(POINTS.name, columns, {"category": category}, model) for category in distinct]
    frames = []
    for category in distinct:
        mine = [c == category for c in categories]
        own = {name: [v for v, keep in zip(column, mine, strict=True) if keep] for name, column in columns.items()}
        frames.append(make_frame(POINTS.name, own, {"category": category}, model))
    return frames

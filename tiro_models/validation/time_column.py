"""A column check of timestamps: is every one of many timestamps certainly good, decided in C loops.

Real devices stamp each point at its own moment, so a window holds about one distinct timestamp per point and a
per-value memo (`Run.time_failure`) no longer saves anything. This kernel parses a whole column with
`datetime.fromisoformat` through `map` (or, for epoch numbers, checks their types and finiteness) and compares only
its earliest and latest moments with the limits. It is
conservative: False means "not shown good here", and the caller then classifies value by value (`parse_time`), which
also explains failures. `bench/validate.py` guards its speed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from tiro_models.utc_columns import numpy_seconds

_parse = datetime.fromisoformat
_TZINFO = attrgetter("tzinfo")
_NUMBER_TYPES = frozenset({int, float})  # bool excluded: parse_time rejects it
_MS_ABOVE = 2e10  # parse_time reads numbers beyond this as epoch milliseconds


def aware_iso_seconds(stamps: Sequence[Any]) -> list[float] | None:
    """The epoch seconds of a column of aware ISO 8601 strings, parsed in one pass; None when any stamp is not one
    (not a string, a form `fromisoformat` does not read, or naive): the caller then reads them one by one."""
    seconds = numpy_seconds(stamps)
    if seconds is not None:
        return seconds
    try:
        moments = list(map(_parse, stamps))
    except (TypeError, ValueError):
        return None
    if None in map(_TZINFO, moments):
        return None
    return list(map(datetime.timestamp, moments))


def all_times_good(stamps: Sequence[Any], floor: float | None, window: tuple[float, float] | None) -> bool:
    """True only if every stamp is one that `parse_time` accepts (ISO 8601 text, or epoch numbers), not older than
    `floor` epoch seconds and inside `[window[0], window[1])` (each limit only when given)."""
    if not stamps:
        return True
    if stamps[0].__class__ is str:
        return _iso_good(stamps, floor, window)
    return _epoch_good(stamps, floor, window)


def _iso_good(stamps: Sequence[Any], floor: float | None, window: tuple[float, float] | None) -> bool:
    if floor is None and window is None:
        return _all_parse(stamps)  # no seconds needed: faster than numpy making them (0.05 µs a stamp, not 0.11-0.14)
    seconds = numpy_seconds(stamps)
    if seconds is not None:
        return _within(min(seconds), max(seconds), floor, window)
    try:
        moments = list(map(_parse, stamps))
    except (ValueError, TypeError):
        return False  # not a string, a form only dateutil reads, or junk
    try:
        earliest, latest = min(moments), max(moments)
    except TypeError:
        return False  # naive and aware moments mixed: the per-value path treats naive as UTC one by one
    if earliest.tzinfo is None:  # then all are naive, which parse_time reads as UTC
        earliest, latest = earliest.replace(tzinfo=UTC), latest.replace(tzinfo=UTC)
    return _within(earliest.timestamp(), latest.timestamp(), floor, window)


def _all_parse(stamps: Sequence[Any]) -> bool:
    """Whether `fromisoformat` reads every stamp (parsed and dropped)."""
    try:
        deque(map(_parse, stamps), maxlen=0)
    except (ValueError, TypeError):
        return False  # not a string, a form only dateutil reads, or junk
    return True


def _epoch_good(stamps: Sequence[Any], floor: float | None, window: tuple[float, float] | None) -> bool:
    if not _NUMBER_TYPES.issuperset(set(map(type, stamps))):
        return False  # text among numbers, booleans or junk: the per-value path decides
    try:
        # NaN or an infinity makes the sum non-finite (and min/max unreliable); parse_time rejects both.
        if not math.isfinite(sum(stamps)):
            return False
        nearest, farthest = min(map(abs, stamps)), max(map(abs, stamps))
    except OverflowError:
        return False  # an integer too large for a float
    if floor is None and window is None:
        return True
    low, high = min(stamps), max(stamps)
    if nearest > _MS_ABOVE:  # all milliseconds
        low, high = low / 1000, high / 1000
    elif farthest > _MS_ABOVE:
        return False  # seconds and milliseconds mixed: the per-value path converts each
    return _within(float(low), float(high), floor, window)


def _within(low: float, high: float, floor: float | None, window: tuple[float, float] | None) -> bool:
    """Whether the earliest and latest moments (epoch seconds) satisfy the floor and the window."""
    if floor is not None and low < floor:
        return False
    return window is None or (window[0] <= low and high < window[1])

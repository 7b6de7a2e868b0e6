"""A column check of timestamps: is every one of many timestamps certainly good, decided in C loops.

Real devices stamp each point at its own moment, so a window holds about one distinct timestamp per point and a
per-value memo (`Run.time_failure`) no longer saves anything. This kernel parses a whole column with
`datetime.fromisoformat` through `map` and compares only its earliest and latest moments with the limits. It is
conservative: False means "not shown good here", and the caller then classifies value by value (`parse_time`), which
also explains failures. `bench/validate.py` guards its speed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

_parse = datetime.fromisoformat


def all_times_good(stamps: Sequence[Any], floor: float | None, window: tuple[float, float] | None) -> bool:
    """True only if every stamp is an ISO 8601 string that `parse_time` accepts, not older than `floor` epoch
    seconds and inside `[window[0], window[1])` (each limit only when given)."""
    if not stamps:
        return True
    try:
        if floor is None and window is None:
            deque(map(_parse, stamps), maxlen=0)  # parse and drop: nothing to compare
            return True
        moments = list(map(_parse, stamps))
    except (ValueError, TypeError):
        return False  # not a string (e.g. epoch numbers), a form only dateutil reads, or junk
    try:
        earliest, latest = min(moments), max(moments)
    except TypeError:
        return False  # naive and aware moments mixed: the per-value path treats naive as UTC one by one
    if earliest.tzinfo is None:  # then all are naive, which parse_time reads as UTC
        earliest, latest = earliest.replace(tzinfo=UTC), latest.replace(tzinfo=UTC)
    low, high = earliest.timestamp(), latest.timestamp()
    if floor is not None and low < floor:
        return False
    return window is None or (window[0] <= low and high < window[1])

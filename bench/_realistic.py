"""Realistic benchmark input: each data point stamped at its own moment, and counts that show how varied an input is.

A device samples each point at its own time, so a poll interval holds about one distinct timestamp per point. Mock
output without `time_var` shares one timestamp, which any per-value cache (timestamp parsing, line-protocol text)
turns into one computation: a benchmark fed that measures the cache, not the work. Every bench restamps its input
here and prints `input_variety` so that a reader can see what was measured.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

POLL_INTERVAL_S = 10.0  # the shipped example's dispatcher interval (scenarios/datahall/config/karez.yaml)


def iter_dps(data: Any) -> Iterator[dict[str, Any]]:
    """Every DP dict (`{"value", "timestamp", ...}`) in a nested or flat snapshot, a list of items or records."""
    if isinstance(data, Mapping):
        if "value" in data and "timestamp" in data:
            yield data  # type: ignore[misc]
            return
        for child in data.values():
            yield from iter_dps(child)
    elif isinstance(data, list):
        for child in data:
            yield from iter_dps(child)


def iso_stamp(moment: float) -> str:
    """An ISO 8601 string as the mock server writes one (aware UTC, microseconds)."""
    return datetime.fromtimestamp(moment, UTC).isoformat()


def restamp(
    dps: Iterable[dict[str, Any]],
    *,
    now: float,
    interval: float = POLL_INTERVAL_S,
    seed: int = 1,
    epoch: bool = False,
) -> int:
    """Give each DP its own sampling moment in `[now - interval, now)`: ISO strings, or epoch seconds with `epoch`.

    Returns how many DPs were restamped."""
    rand = random.Random(seed).random
    n = 0
    for dp in dps:
        moment = now - rand() * interval
        dp["timestamp"] = moment if epoch else iso_stamp(moment)
        n += 1
    return n


def variety(dps: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many DPs, distinct timestamps and distinct values (1, 1.0 and True counted apart) an input holds."""
    n = 0
    stamps: set[Any] = set()
    values: set[Any] = set()
    for dp in dps:
        n += 1
        stamps.add(dp.get("timestamp"))
        value = dp.get("value")
        try:
            values.add((type(value), value))
        except TypeError:
            values.add((type(value), repr(value)))
    return {"points": n, "distinct_timestamps": len(stamps), "distinct_values": len(values)}

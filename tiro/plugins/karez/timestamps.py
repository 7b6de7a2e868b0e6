"""ISO 8601 timestamps to epoch seconds, fast for the aware UTC strings Tiro emits, dateutil for the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tiro_models.validation.time_column import aware_iso_seconds

_CACHE_LIMIT = 4096


class EpochConverter:
    """Converts timestamps to float epoch seconds; remembers recent strings because a batch shares few of them."""

    def __init__(self, fallback: Callable[[str], float]) -> None:
        self._fallback = fallback
        self._cache: dict[str, float] = {}

    def __call__(self, ts: Any) -> float:
        """Epoch seconds for an ISO string (naive ones go to the fallback), a number, or now when empty."""
        if isinstance(ts, str) and ts:
            cached = self._cache.get(ts)
            if cached is not None:
                return cached
            try:
                parsed = datetime.fromisoformat(ts)
                seconds = parsed.timestamp() if parsed.tzinfo is not None else self._fallback(ts)
            except ValueError:
                seconds = self._fallback(ts)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[ts] = seconds
            return seconds
        if isinstance(ts, int | float) and not isinstance(ts, bool) and ts:
            return float(ts)
        return time.time()

    def many(self, stamps: list[Any]) -> list[float]:
        """`self(ts)` of each timestamp, aware ISO strings parsed in one pass (a column of distinct timestamps);
        raises what `self` raises for the first one it cannot read."""
        seconds = aware_iso_seconds(stamps)
        return list(map(self, stamps)) if seconds is None else seconds

"""Validation window results kept for history: one record per judged window, in the telemetry store of a URL.

sqlite keeps them in the table `window_results` of the telemetry file; InfluxDB in the measurement
`tiro_window_results` of the telemetry bucket. A window written again (a late sample revised its verdict) replaces
the earlier record of the same window and source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tiro.stores.urls import parse_store_url

__all__ = ["COUNTS", "WindowResult", "WindowResultStore", "open_window_results"]

COUNTS = ("expected", "received", "missing", "invalid", "unknown")


@dataclass(frozen=True, slots=True)
class WindowResult:
    """The outcome of one validation window: bounds (epoch seconds), verdict, completeness and counts."""

    start: float
    end: float
    valid: bool
    completeness: float
    expected: int = 0
    received: int = 0
    missing: int = 0
    invalid: int = 0
    unknown: int = 0
    errors: int = 0
    messages: int = 0
    late: int = 0
    source: str = "flow"  # who judged it: the Prefect flow or the tiro_validate aggregator

    @classmethod
    def from_report(cls, body: Mapping[str, Any], source: str = "flow") -> WindowResult:
        """The record of a validation report (`ValidationResult.to_dict()` plus what was read, as the flow logs it)."""
        counts = body.get("counts") or {}
        return cls(
            start=_seconds(body["start"]),
            end=_seconds(body["end"]),
            valid=bool(body["valid"]),
            completeness=float(body["completeness"]),
            **{name: int(counts.get(name, 0)) for name in COUNTS},
            errors=len(body.get("errors") or ()),
            messages=int(body.get("messages", 0) or 0),
            late=int(body.get("late", 0) or 0),
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


class WindowResultStore(ABC):
    """Where window results are kept: write one per window, read the most recent back."""

    @abstractmethod
    def write(self, result: WindowResult) -> None:
        """Keep `result` (replacing an earlier record of the same window and source)."""

    @abstractmethod
    def recent(self, limit: int = 20, source: str | None = None) -> list[WindowResult]:
        """The `limit` most recent windows (by end), oldest first; only those of `source` when given."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections and files."""


def open_window_results(url: str, **options: Any) -> WindowResultStore:
    """The window-result store of a telemetry store URL (sqlite file or InfluxDB); options go to the backend."""
    parsed = parse_store_url(url, store="telemetry")
    if parsed.kind == "sqlite":
        from tiro.stores.sqlite.window_results import SqliteWindowResults

        return SqliteWindowResults(parsed.location, **options)
    from tiro.stores.window_results_influx import InfluxWindowResults

    assert parsed.location is not None  # a server URL
    return InfluxWindowResults(parsed.location, **options)


def _seconds(moment: Any) -> float:
    if isinstance(moment, int | float):
        return float(moment)
    if isinstance(moment, datetime):
        return moment.timestamp()
    return datetime.fromisoformat(str(moment)).timestamp()

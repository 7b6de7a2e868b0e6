"""Validation windows aligned to wall-clock multiples of the retention, closed on a timer."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from tiro_models.spec import Model
from tiro_models.validate import Collector, SnapshotNester, ValidationResult, validate

# (flat snapshot, window start, window end) -> result
Check = Callable[[dict[str, Any], datetime, datetime], ValidationResult]


def window_start(now: float, retention: float) -> float:
    """The start (epoch seconds) of the aligned window that contains `now`."""
    return math.floor(now / retention) * retention


def model_check(model: Model, *, strict: bool = False, max_age: float | None = None) -> Check:
    """A Check that validates against the compiled model (window after window: it reuses the last nested tree)."""
    nester = SnapshotNester()

    def check(flat: dict[str, Any], start: datetime, end: datetime) -> ValidationResult:
        return validate(model, flat, strict=strict, now=end, max_age=max_age, window=(start, end), nester=nester)

    return check


@dataclass
class WindowReport:
    """One closed window: the validation result, how many points it collected, and whether it was partial."""

    result: ValidationResult
    collected: int
    partial: bool

    def to_dict(self) -> dict[str, Any]:
        """Upstream result fields plus errors, counts, completeness, `partial` and `collection_size`."""
        return {**self.result.to_dict(), "partial": self.partial, "collection_size": self.collected}

    def summary_line(self) -> str:
        """One line for a console: the window in UTC, the verdict, completeness and the counts."""
        result = self.result
        start, end = (moment.astimezone(UTC) for moment in (result.start, result.end))
        day = "" if start.date() == end.date() else f"{end:%Y-%m-%d} "
        verdict = "valid" if result.valid else f"INVALID ({len(result.errors)} errors)"
        counts = ", ".join(f"{key} {value}" for key, value in result.counts.items())
        partial = " (partial window)" if self.partial else ""
        return (
            f"window {start:%Y-%m-%d %H:%M:%S}–{day}{end:%H:%M:%S} UTC{partial}: {verdict}, "
            f"completeness {result.completeness:.1%}; {counts}; collection size {self.collected}"
        )


class WindowedValidator:
    """Collects the latest value per data-point path and validates each aligned window when it closes."""

    def __init__(self, check: Check, retention: float, *, started_at: float) -> None:
        if retention <= 0:
            raise ValueError(f"retention must be positive, got {retention}")
        self.check = check
        self.retention = float(retention)
        self.collector = Collector()
        self.start = window_start(started_at, self.retention)
        # The window the role starts in began before the role could collect anything: it is partial.
        self.partial = started_at > self.start

    @property
    def end(self) -> float:
        """When the current window closes (epoch seconds)."""
        return self.start + self.retention

    def collect(self, path: str, dp: Any) -> None:
        """Keep the latest value at `path` for the current window."""
        self.collector.collect(path, dp)

    def close(self) -> WindowReport:
        """Validate the current window, start the next one, and return the report."""
        snapshot = self.collector.snapshot()
        start = datetime.fromtimestamp(self.start, UTC)
        end = datetime.fromtimestamp(self.end, UTC)
        # Nesting a window builds a container per asset, none of them garbage: with the collector running, closing a
        # 104,003-point window that changed took 1.6–2 s (measured), without it 0.5 s, all of it blocking the loop.
        collecting = gc.isenabled()
        gc.disable()
        try:
            result = self.check(snapshot, start, end)
        finally:
            if collecting:
                gc.enable()
        if self.partial:
            # Points missing from a window the role joined late are expected, not a failure of the data.
            result = replace(result, errors=[e for e in result.errors if e.type != "missing"])
        report = WindowReport(result=result, collected=len(snapshot), partial=self.partial)
        self.collector.clear()
        self.start = self.end
        self.partial = False
        return report

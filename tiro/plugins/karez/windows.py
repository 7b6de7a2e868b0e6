"""Validation windows aligned to wall-clock multiples of the retention, filled by event time, judged after an allowed
lateness (see tiro_models.validation.event_time) and revised when late data arrives."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

from tiro.window_report import verdict, window_label
from tiro_models.series import SeriesMemory
from tiro_models.spec import Model
from tiro_models.validate import Collector, SnapshotNester, ValidationResult, validate
from tiro_models.validation.checks import parse_times
from tiro_models.validation.collector import dp_objects
from tiro_models.validation.event_time import CARRY_FRACTION, LatenessEstimate, event_time

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
    """One judged window: the validation result, how many points it collected, whether it was partial, and how many
    samples arrived late for it (`revised`: a later verdict of a window that received late samples)."""

    result: ValidationResult
    collected: int
    partial: bool
    late: int = 0
    revised: bool = False
    allowed_lateness: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Upstream result fields plus errors, counts, completeness, `partial`, `collection_size`, `late`, `revised`
        and `allowed_lateness` (seconds)."""
        return {
            **self.result.to_dict(),
            "partial": self.partial,
            "collection_size": self.collected,
            "late": self.late,
            "revised": self.revised,
            "allowed_lateness": round(self.allowed_lateness, 3),
        }

    def summary_line(self) -> str:
        """One line for a console: the window in UTC, the verdict, completeness and the counts."""
        result = self.result
        outcome = verdict(result.valid) + ("" if result.valid else f" ({len(result.errors)} errors)")
        counts = ", ".join(f"{key} {value}" for key, value in result.counts.items())
        notes = " (partial window)" if self.partial else ""
        if self.revised:
            notes += f" revised after {self.late} late samples"
        elif self.late:
            notes += f" ({self.late} late samples)"
        return (
            f"window {window_label(result.start, result.end)}{notes}: {outcome}, "
            f"completeness {result.completeness:.1%}; {counts}; collection size {self.collected}"
        )


@dataclass(slots=True)
class _Window:
    """The samples of one window, before and (for late samples) after its verdict."""

    start: float
    partial: bool
    collector: Collector = field(default_factory=Collector)
    late: int = 0
    unreported_late: int = 0


class WindowedValidator:
    """Collects the latest value per data-point path into the window of each sample's event time, judges each
    window at its deadline (end + allowed lateness), and revises the last verdict when late samples arrive."""

    def __init__(self, check: Check, retention: float, *, started_at: float, lateness: float | None = None) -> None:
        if retention <= 0:
            raise ValueError(f"retention must be positive, got {retention}")
        self.check = check
        self.retention = float(retention)
        self.lateness = LatenessEstimate(self.retention, lateness)
        self.start = window_start(started_at, self.retention)  # the earliest window not judged yet
        # The window the role starts in began before the role could collect anything: it is partial.
        self.partial = started_at > self.start
        self._open: dict[float, _Window] = {}
        self._judged: _Window | None = None  # the last judged window: late samples still revise it
        self._spare: Collector | None = None  # a cleared collector that still knows which paths are data points
        self._series: SeriesMemory[str] = SeriesMemory()  # per model, the data-point path of each series id

    @property
    def end(self) -> float:
        """When the earliest window not judged yet ends (epoch seconds)."""
        return self.start + self.retention

    def next_deadline(self) -> float:
        """When the earliest window not judged yet is due (its end plus the allowed lateness)."""
        return self.end + self.lateness.value()

    def collect(self, path: str, dp: Any, arrival: float | None = None) -> None:
        """Keep the latest value at `path` in the window of its event time (arrival time: now unless given)."""
        self.collect_many(((path, dp),), time.time() if arrival is None else arrival)

    def collect_many(self, items: Iterable[tuple[str, Any]], arrival: float) -> None:
        """Collect (path, result) pairs that arrived together at `arrival` (epoch seconds)."""
        rule = self.lateness.rule()
        observe = self.lateness.observe
        last_stamp: Any = None
        last_event: float | None = None
        window: _Window | None = None
        # The usual sample is on time for the window of the one before it, and not near that window's end:
        # [low, high) skips the rule for those.
        low = high = math.nan
        for path, dp in items:
            stamp = dp.get("timestamp") if dp.__class__ is dict else None
            if stamp is None or stamp.__class__ is not str:
                event = event_time(dp)
            elif stamp == last_stamp:  # a batch fetched at once often shares its timestamp
                event = last_event
            else:
                event = last_event = event_time(dp)
                last_stamp = stamp
            if event is not None:
                observe(arrival - event)
                if low <= event < high:
                    window.collector.collect(path, dp)  # type: ignore[union-attr]
                    continue
            start, late = rule.assign(event, arrival)
            window = self._place(start, path, dp, arrival)
            if rule.carried(event, start):
                self._place(start + self.retention, path, dp, arrival)
            if event is not None and not late and window.start == start >= self.start:
                carried_from = start + self.retention - min(rule.lateness, self.retention * CARRY_FRACTION)
                low, high = start, min(carried_from, arrival + self.retention)
            else:
                low = high = math.nan

    def collect_columns(
        self,
        paths: list[str],
        values: list[Any],
        stamps: list[Any],
        units: list[Any],
        arrival: float,
        series: tuple[str, list[int]] | None = None,
    ) -> None:
        """`collect_many` of samples given as columns (data-point path, value, timestamp, unit or None): the same
        windows and verdicts, with whole-column passes. `series` (model, ids): the rows' series ids, which stand for
        the paths once this validator learned them from a frame's paths (no path string hashed, no object per
        sample). A column with a timestamp that does not parse goes sample by sample."""
        parsed = parse_times(stamps)
        if not parsed:
            return
        if None in parsed:
            self.collect_many(zip(paths, dp_objects(values, stamps, units), strict=True), arrival)
            return
        events = cast(list[float], parsed)
        windows = self.lateness.rule().windows_of(events, arrival)
        self.lateness.observe_many([arrival - event for event in events])
        columns = (paths, values, stamps, units, series[1] if series is not None else None)
        for start, rows in windows.items():
            window = self._window(start, arrival)
            own = columns if rows is None else _rows_of(columns, rows)
            self._collect_rows(window.collector, own, series[0] if series is not None else None)
            if window.start < self.start:  # judged already: the samples revise its verdict
                window.late += len(own[0])
                window.unreported_late += len(own[0])

    def _collect_rows(self, collector: Collector, columns: _Columns, model: str | None) -> None:
        """Collect rows into one window: by series id once every id is known, else by path (learning the ids of the
        rows collected as data-point paths)."""
        paths, values, stamps, units, ids = columns
        if ids is None or model is None:
            collector.collect_points(paths, dp_objects(values, stamps, units))
            return
        if self._series.knows_all(model, ids):
            collector.collect_series(self._series.of_model(model), ids, values, stamps, units)
            return
        collector.collect_points(paths, dp_objects(values, stamps, units))
        is_point = collector.is_point_path
        self._series.learn(model, ((i, path) for i, path in zip(ids, paths, strict=True) if i >= 0 and is_point(path)))

    def _place(self, start: float, path: str, dp: Any, arrival: float) -> _Window:
        """Collect one sample into the window at `start` (counted late when that window was judged already)."""
        window = self._window(start, arrival)
        window.collector.collect(path, dp)
        if window.start < self.start:
            window.late += 1
            window.unreported_late += 1
        return window

    def _window(self, start: float, arrival: float) -> _Window:
        if start >= self.start:
            window = self._open.get(start)
            if window is None:
                window = _Window(start, partial=self.partial and start == self.start)
                if self._spare is not None:
                    window.collector, self._spare = self._spare, None
                self._open[start] = window
            return window
        if self._judged is not None and self._judged.start == start:
            return self._judged
        # The window was judged and is past revision (or predates the role): count the sample where it arrived.
        return self._window(max(window_start(arrival, self.retention), self.start), arrival)

    def due(self, now: float) -> list[WindowReport]:
        """Judge every window whose deadline has passed at `now` (each preceded by the revision of the window before
        it, when late samples reached that one)."""
        reports: list[WindowReport] = []
        while now >= self.next_deadline():
            reports.extend(self.revisions())
            reports.append(self.close())
        return reports

    def revisions(self) -> list[WindowReport]:
        """The revised verdict of the last judged window if late samples reached it since its last report."""
        judged = self._judged
        if judged is None or not judged.unreported_late:
            return []
        judged.unreported_late = 0
        return [self._judge(judged, revised=True)]

    def close(self) -> WindowReport:
        """Judge the earliest window not judged yet, whatever the time, and move on to the next one."""
        window = self._open.pop(self.start, None) or _Window(self.start, partial=self.partial)
        report = self._judge(window, revised=False)
        if self._judged is not None:  # the one before is past revision now
            self._judged.collector.clear()
            self._spare = self._judged.collector
        self._judged = window
        self.start = self.end
        self.partial = False
        return report

    def _judge(self, window: _Window, *, revised: bool) -> WindowReport:
        start = datetime.fromtimestamp(window.start, UTC)
        end = datetime.fromtimestamp(window.start + self.retention, UTC)
        # The snapshot's DP objects and the nesting (a container per asset) are none of them garbage: with the
        # collector running, closing a 104,003-point window that changed took 1.6–2 s (measured), without it 0.5 s,
        # all of it blocking the loop.
        collecting = gc.isenabled()
        gc.disable()
        try:
            snapshot = window.collector.snapshot()
            result = self.check(snapshot, start, end)
        finally:
            if collecting:
                gc.enable()
        if window.partial:
            # Points missing from a window the role joined late are expected, not a failure of the data.
            result = replace(result, errors=[e for e in result.errors if e.type != "missing"])
        return WindowReport(
            result=result,
            collected=len(snapshot),
            partial=window.partial,
            late=window.late,
            revised=revised,
            allowed_lateness=self.lateness.value(),
        )

    @property
    def collector(self) -> Collector:
        """The collector of the earliest window not judged yet."""
        return self._window(self.start, self.start).collector


_Columns = tuple[list[str], list[Any], list[Any], list[Any], list[int] | None]


def _rows_of(columns: _Columns, rows: list[int]) -> _Columns:
    """The given rows of (paths, values, timestamps, units, ids or None)."""
    paths, values, stamps, units, ids = columns
    return (
        [paths[i] for i in rows],
        [values[i] for i in rows],
        [stamps[i] for i in rows],
        [units[i] for i in rows],
        None if ids is None else [ids[i] for i in rows],
    )

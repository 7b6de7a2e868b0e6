"""Event time: the validation window a sample counts in is chosen by the sample's own timestamp, not by when its
message happened to arrive, and a window is judged only after an allowed lateness.

With windows of R seconds and an allowed lateness of L seconds, window [s, s + R) is judged at its deadline s + R + L.
A sample with event time t (its timestamp) that arrives at time a counts in the window of t when it arrives before that
window's deadline (on time), and as *late* for it when it arrives after the deadline but before s + 2R + L (the window's
verdict is then revised). A sample stamped within min(L, R/4) before a window's start counts in that window too: a
point polled once a window jitters across the boundary (measured: samples at 13.98 s and 21.02 s of a point polled
every 7 s left the window [14 s, 21 s) without one), so a window holds the latest value of each point as of its end,
no older than the window plus that margin. A sample with no usable timestamp, one stamped more than one window ahead
of its arrival (clock skew), or one whose window is older than that (a stale value, re-sent unchanged) counts in the
window of its arrival, as before. The in-process `tiro_validate` aggregator and the scheduled Prefect flow both use
`WindowRule`, so they give the same verdict for the same data.

The default lateness ("auto") is twice the 99th percentile of sample age on arrival (a − t) over recent samples, at
least 1 s and at most one window: it covers a batch still in a converter or a redelivery, and follows the pipeline
when it gets slower, without holding windows open longer than the data needs.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checks import parse_time

MIN_LATENESS = 1.0
CARRY_FRACTION = 0.25  # at most this much of a window's end is carried into the next one
LATENESS_FACTOR = 2.0
AGE_SAMPLES = 4096  # ages kept for the percentile: enough for a stable p99, small enough to sort often
# rows from which a batch spanning windows is split in numpy: its fixed cost per call (tens of µs) is repaid
_NUMPY_ROWS_FROM = 256


@dataclass(frozen=True, slots=True)
class WindowRule:
    """Windows of `retention` seconds, judged `lateness` seconds after they end, aligned to multiples of the
    retention after `origin` (epoch 0: wall-clock multiples, as the aggregator's; a flow's window start otherwise)."""

    retention: float
    lateness: float
    origin: float = 0.0

    def window_of(self, moment: float) -> float:
        """The start of the window that contains `moment` (epoch seconds)."""
        return self.origin + math.floor((moment - self.origin) / self.retention) * self.retention

    def deadline(self, start: float) -> float:
        """When the window starting at `start` is judged."""
        return start + self.retention + self.lateness

    def assign(self, event: float | None, arrival: float) -> tuple[float, bool]:
        """(start of the window the sample counts in, whether it is late for that window)."""
        retention, origin = self.retention, self.origin
        if event is not None and event < arrival + retention:
            start = origin + math.floor((event - origin) / retention) * retention
            late_from = start + retention + self.lateness
            if arrival < late_from:
                return start, False
            if arrival < late_from + retention:
                return start, True
        return origin + math.floor((arrival - origin) / retention) * retention, False

    def carried(self, event: float | None, start: float) -> bool:
        """Whether a sample that counts in the window at `start` counts in the next window too: it is stamped within
        the lateness before that window's start (a point polled once a window, on the boundary, jitters across it)."""
        end = start + self.retention
        return event is not None and end - min(self.lateness, self.retention * CARRY_FRACTION) <= event < end

    def windows_of(self, events: list[float], arrival: float) -> dict[float, list[int] | None]:
        """The windows that samples stamped `events` (epoch seconds, at least one) and arriving together at
        `arrival` count in, each with its rows in order (None: every row), as `assign` and `carried` give them."""
        low, high = min(events), max(events)
        start = self.assign(low, arrival)[0]
        # the usual batch: every sample in one window, and all or none of them also in the next one
        if high < arrival + self.retention and self.window_of(low) == self.window_of(high) == start:
            carried = self.carried(low, start)
            if carried == self.carried(high, start):
                return {start: None, start + self.retention: None} if carried else {start: None}
        if len(events) >= _NUMPY_ROWS_FROM:
            return self._windows_in_numpy(events, arrival)
        return self._windows_by_row(events, arrival)

    def _windows_by_row(self, events: list[float], arrival: float) -> dict[float, list[int] | None]:
        """`windows_of` row by row: `assign` and `carried` written out, as they measured 3x slower as calls."""
        retention, lateness, origin = self.retention, self.lateness, self.origin
        ahead = arrival + retention  # stamped beyond: clock skew, counted where it arrives
        arrived_in = origin + math.floor((arrival - origin) / retention) * retention
        margin = min(lateness, retention * CARRY_FRACTION)
        windows: dict[float, list[int] | None] = {}
        for row, event in enumerate(events):
            start = origin + math.floor((event - origin) / retention) * retention if event < ahead else arrived_in
            if start + retention + lateness + retention <= arrival:  # a stale value: where it arrives, too
                start = arrived_in
            rows = windows.get(start)
            if rows is None:
                windows[start] = [row]
            else:
                rows.append(row)
            end = start + retention
            if end - margin <= event < end:
                rows = windows.get(end)
                if rows is None:
                    windows[end] = [row]
                else:
                    rows.append(row)
        return windows

    def _windows_in_numpy(self, events: list[float], arrival: float) -> dict[float, list[int] | None]:
        """`_windows_by_row` as whole-column passes: the same arithmetic in the same order on float64, so the same
        windows, rows and order of windows (by the first row that counts in each, its own window before the next)."""
        import numpy as np  # here, not at import: the CLIs that load the model start without numpy

        retention, lateness, origin = self.retention, self.lateness, self.origin
        arrived_in = origin + math.floor((arrival - origin) / retention) * retention
        margin = min(lateness, retention * CARRY_FRACTION)
        moments = np.asarray(events, dtype=np.float64)
        with np.errstate(invalid="ignore"):  # NaN stays NaN, and counts where it arrives, as row by row
            own = origin + np.floor((moments - origin) / retention) * retention
        starts = np.where(moments < arrival + retention, own, arrived_in)
        starts = np.where(starts + retention + lateness + retention <= arrival, arrived_in, starts)
        ends = starts + retention
        carried = (ends - margin <= moments) & (moments < ends)
        # (window, row) pairs: each row in its own window, a carried row in the next one too; a pair's place in
        # row-by-row order is 2r for its own window, 2r + 1 for the next
        carried_rows = np.flatnonzero(carried)
        keys = np.concatenate((starts, ends[carried_rows]))
        rows = np.concatenate((np.arange(len(starts)), carried_rows))
        places = np.concatenate((rows[: len(starts)] * 2, carried_rows * 2 + 1))
        order = np.lexsort((places, keys))  # by window, then in row order: one sort, however many windows
        keys, rows, places = keys[order], rows[order], places[order]
        bounds = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        heads = np.concatenate(([0], bounds))
        groups = np.split(rows, bounds)
        windows: dict[float, list[int] | None] = {}
        for group in np.argsort(places[heads], kind="stable").tolist():  # windows in the order rows first reach them
            windows[float(keys[heads[group]])] = groups[group].tolist()
        return windows

    def counts_in(self, window: float, event: float | None, arrival: float) -> tuple[bool, bool]:
        """(whether the sample counts in the window starting at `window`, whether it is late for it)."""
        start, late = self.assign(event, arrival)
        if start == window:
            return True, late
        if start + self.retention == window and self.carried(event, start):
            return True, arrival >= self.deadline(window)
        return False, False


def event_time(dp: Any) -> float | None:
    """The epoch seconds of a data point's `timestamp`, or None when it has none that parses."""
    if dp.__class__ is dict or isinstance(dp, Mapping):
        stamp = dp.get("timestamp")
        if stamp is not None:
            return parse_time(stamp)
    return None


class LatenessEstimate:
    """The allowed lateness: a fixed number of seconds, or (auto) twice the p99 of recent sample ages on arrival."""

    __slots__ = ("_ages", "_p99", "fixed", "retention")

    def __init__(self, retention: float, fixed: float | None = None) -> None:
        if fixed is not None and (not math.isfinite(fixed) or fixed < 0):
            raise ValueError(f"allowed lateness must be 0 or more seconds, got {fixed}")
        self.retention = retention
        self.fixed = fixed
        self._ages: deque[float] = deque(maxlen=AGE_SAMPLES)
        self._p99: float | None = None  # of the ages as they are; None: not computed since they changed

    def observe(self, age: float) -> None:
        """Record one sample's age on arrival; stale values (older than two windows) say nothing of the pipeline."""
        if self.fixed is not None or not 0.0 <= age < 2 * self.retention:
            return
        self._ages.append(age)
        self._p99 = None

    def observe_many(self, ages: list[float]) -> None:
        """`observe` of each age, in order."""
        if self.fixed is not None:
            return
        span = 2 * self.retention
        kept = [age for age in ages if 0.0 <= age < span]
        if kept:
            self._ages.extend(kept)
            self._p99 = None

    def p99_age(self) -> float | None:
        """The 99th percentile of the recorded ages (None before the first)."""
        if not self._ages:
            return None
        if self._p99 is None:  # once per change: a validator asks for it at every frame and deadline
            n = len(self._ages)
            rank = n - min(n - 1, math.ceil(0.99 * n) - 1)  # the p99 is the rank-th largest
            self._p99 = heapq.nlargest(rank, self._ages)[-1]
        return self._p99

    def value(self) -> float:
        """The lateness to allow now (seconds)."""
        if self.fixed is not None:
            return self.fixed
        p99 = self.p99_age()
        estimate = MIN_LATENESS if p99 is None else LATENESS_FACTOR * p99
        return min(self.retention, max(MIN_LATENESS, estimate))

    def rule(self, origin: float = 0.0) -> WindowRule:
        """The window rule with the lateness allowed now."""
        return WindowRule(self.retention, self.value(), origin)


def parse_lateness(value: Any) -> float | None:
    """A configured allowed lateness: "auto" (or None) for the estimate, else seconds (ValueError otherwise)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"allowed lateness must be 'auto' or seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"allowed lateness must be 0 or more seconds, got {value!r}")
    return seconds

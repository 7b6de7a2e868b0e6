"""Flux queries for the InfluxDB backend's reads; every user value is a quoted Flux string literal, never code."""

from __future__ import annotations

from tiro.stores.base import AGGREGATIONS
from tiro_models.paths import format_regex

# Flux's range() stops at now() unless told otherwise; samples stamped in the future must still be found.
FAR_FUTURE_S = 4_102_444_800  # 2100-01-01T00:00:00Z
_FLUX_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def flux_string(value: str) -> str:
    """A Flux string literal holding `value` as data (backslash, quote, `${` interpolation and newlines escaped)."""
    return '"' + str(value).translate(_FLUX_ESCAPES) + '"'


def flux_time(seconds: float) -> str:
    """A Flux time from epoch seconds (nanosecond integer, so no parsing of dates is involved)."""
    return f"time(v: {round(float(seconds) * 1e9)})"


def flux_duration(seconds: float) -> str:
    """A Flux duration literal in whole milliseconds (at least 1ms)."""
    millis = max(1, round(float(seconds) * 1000))
    return f"{millis}ms"


def _source(bucket: str, measurement: str, start: str, stop: str, pattern: str | None) -> list[str]:
    lines = [
        f"from(bucket: {flux_string(bucket)})",
        f"  |> range(start: {start}, stop: {stop})",
        f"  |> filter(fn: (r) => r._measurement == {flux_string(measurement)})",
    ]
    if pattern is not None:
        lines.insert(0, f"pattern = regexp.compile(v: {flux_string(format_regex(pattern))})")
        lines.insert(0, 'import "regexp"')
        lines.append("  |> filter(fn: (r) => r.path =~ pattern)")
    return lines


def latest_query(bucket: str, measurement: str, pattern: str | None = None) -> str:
    """The newest point of every series whose `path` tag (type path) matches the %-pattern (all when None)."""
    lines = _source(bucket, measurement, flux_time(0), flux_time(FAR_FUTURE_S), pattern)
    lines.append("  |> last()")
    return "\n".join(lines)


def history_query(
    bucket: str,
    measurement: str,
    pattern: str,
    *,
    since: float,
    until: float | None = None,
    step: float | None = None,
    agg: str = "mean",
) -> str:
    """Points in [since, until) of the matching series, in `step`-second windows reduced by `agg` when given."""
    if agg not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {agg!r}: expected one of {', '.join(AGGREGATIONS)}")
    stop = flux_time(until if until is not None else FAR_FUTURE_S)
    lines = _source(bucket, measurement, flux_time(since), stop, pattern)
    if step is not None:
        if step <= 0:
            raise ValueError(f"step must be positive, not {step}")
        # Windows are labelled by their start, like the embedded store's buckets.
        lines.append(
            f'  |> aggregateWindow(every: {flux_duration(step)}, fn: {agg}, createEmpty: false, timeSrc: "_start")'
        )
    lines.append('  |> keep(columns: ["_time", "_value", "_field", "asset_path", "type", "unit"])')
    return "\n".join(lines)

"""ISO 8601 UTC text and epoch seconds, a whole column at a time, in numpy: the timestamp kernels of the data plane.

Every data point carries its own timestamp, as text on the wire between a site and Tiro (Tiro 0.13's form,
`2026-12-06T12:00:00.123456+00:00`). The mock writes one per point and `tiro_preprocess` and `tiro_validate` read one
per point; through `datetime` that was a third of the mock's CPU and an eighth of validation's. Here the text of a
column is one byte array: its fields are read or written as digit columns, and dates are counted in days with the
civil-calendar arithmetic of proleptic Gregorian dates (as `datetime` counts them).

Both kernels serve only the one form `datetime.isoformat()` gives an aware UTC moment with microseconds, and answer
None for anything else, so callers keep their `datetime` path for every other text; what they do answer is what
`datetime` gives, to the bit (tests compare them). `bench/utc_text.py` guards their speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["iso_seconds", "iso_texts"]

_WIDTH = 32  # "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"
_TEMPLATE = np.frombuffer(b"0000-00-00T00:00:00.000000+00:00\n", dtype=np.uint8)
_FORM = np.frombuffer(b"9999-99-99T99:99:99.999999+00:00", dtype=np.uint8)
_LOWEST = np.where(np.equal(_FORM, ord("9")), ord("0"), _FORM).astype(np.uint8)  # per column: the bytes the form allows
_HIGHEST = _FORM
_FIELDS = {"year": (0, 4), "month": (5, 2), "day": (8, 2), "hour": (11, 2), "minute": (14, 2), "second": (17, 2)}
_FIELDS["micros"] = (20, 6)
_DAYS_BEFORE_MONTH_END = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_EXACT_MICROS = 2**53  # beyond this many microseconds a float64 no longer holds each one (about the year 2255)
_DATETIME_END_S = 253_402_300_800  # 10000-01-01: datetime's range ends before it
_EPOCH_DAY = 719_468  # days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar


def iso_seconds(stamps: Sequence[Any]) -> list[float] | None:
    """`datetime.fromisoformat(s).timestamp()` of each stamp when every one is an aware UTC time in the form
    `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`; None when any is not (the caller then reads them with `datetime`)."""
    n = len(stamps)
    if not n:
        return []
    try:
        text = "".join(stamps)
        raw = text.encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return None
    if len(raw) != _WIDTH * n or set(map(len, stamps)) != {_WIDTH}:
        return None
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(n, _WIDTH)
    if not ((rows >= _LOWEST) & (rows <= _HIGHEST)).all():  # a digit where the form has one, else its separator
        return None
    # digit columns times place values, column by column: a matrix product would go to BLAS, whose threads spin on
    # every core for a column of a few thousand rows (1.2 µs of CPU per row at 5,000, bench/utc_text.py)
    digits = rows.astype(np.int64) - ord("0")
    year, month, day, hour, minute, second, micros = (_number(digits, *_FIELDS[name]) for name in _FIELDS)
    if not _valid_dates(year, month, day) or hour.max() > 23 or minute.max() > 59 or second.max() > 59:
        return None
    seconds_of_day = hour * 3600 + minute * 60 + second
    total = (_days_from_civil(year, month, day) * 86_400 + seconds_of_day) * 1_000_000 + micros
    if np.abs(total).max() >= _EXACT_MICROS:
        return None
    # an exact float of the microseconds divided once: the correctly rounded quotient, as timedelta.total_seconds()
    seconds: list[float] = (total.astype(np.float64) / 1e6).tolist()
    return seconds


def iso_texts(moments: Sequence[float]) -> list[str] | None:
    """`datetime.fromtimestamp(m, UTC).isoformat()` of each epoch-seconds moment when every one is finite, not
    negative and before the year 10000; None otherwise (the caller then writes them with `datetime`)."""
    n = len(moments)
    if not n:
        return []
    values = np.asarray(moments, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all() or values.min() < 0 or values.max() >= _DATETIME_END_S:
        return None
    whole = np.floor(values)
    # datetime rounds the fraction to microseconds half to even; rint does the same, and a 1e6 carries over
    total = whole.astype(np.int64) * 1_000_000 + np.rint((values - whole) * 1e6).astype(np.int64)
    days, micros_of_day = np.divmod(total, 86_400_000_000)
    year, month, day = _civil_from_days(days)
    seconds_of_day, micros = np.divmod(micros_of_day, 1_000_000)
    hour, rest = np.divmod(seconds_of_day, 3600)
    minute, second = np.divmod(rest, 60)
    rows = np.tile(_TEMPLATE, (n, 1))
    for name, value in zip(_FIELDS, (year, month, day, hour, minute, second, micros), strict=True):
        _write(rows, value, *_FIELDS[name])
    texts = rows.tobytes().decode("ascii").split("\n")
    texts.pop()  # after the last newline
    for row in np.flatnonzero(micros == 0).tolist():  # isoformat leaves out a zero fraction
        texts[row] = f"{texts[row][:19]}+00:00"
    return texts


def _number(digits: np.ndarray, start: int, width: int) -> np.ndarray:
    """The decimal number in columns [start, start + width) of each row of digit values."""
    value = digits[:, start]
    for column in range(start + 1, start + width):
        value = value * 10 + digits[:, column]
    return value


def _write(rows: np.ndarray, value: np.ndarray, start: int, width: int) -> None:
    """Write `value` as `width` decimal digits into columns [start, start + width) of each row."""
    for column in range(start + width - 1, start - 1, -1):
        value, digit = np.divmod(value, 10)
        rows[:, column] = digit + ord("0")


def _valid_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> bool:
    """Whether every (year, month, day) is a date `datetime` has (year 1 to 9999)."""
    if year.min() < 1 or month.min() < 1 or month.max() > 12 or day.min() < 1:
        return False
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_BEFORE_MONTH_END[month - 1] + ((month == 2) & leap)
    return bool((day <= month_days).all())


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (years counted from March, so a leap day ends a year)."""
    y = year - (month <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - _EPOCH_DAY


def _civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01, the inverse of `_days_from_civil`."""
    shifted = days + _EPOCH_DAY
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    march_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * march_month + 2) // 5 + 1
    month = np.where(march_month < 10, march_month + 3, march_month - 9)
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day

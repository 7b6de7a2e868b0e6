"""The numpy timestamp kernels give what `datetime` gives, to the bit, and decline everything else (None), so the
callers' `datetime` paths decide it; the callers take them only for columns long enough to repay numpy."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tiro_models import utc_columns
from tiro_models.mock import iso_utc, iso_utc_by_second
from tiro_models.utc_text import iso_seconds, iso_texts
from tiro_models.validation.time_column import all_times_good, aware_iso_seconds

EDGES = [0.0, 1.5, 1.8e9, 1.8e9 + 0.9999995, 1.8e9 + 5e-7, 1.8e9 + 1.5e-6, 1.8e9 + 2.5e-6, 86_399.9999996]
EDGES += [951_782_400.0, 951_868_799.9999995, 4_107_542_399.999999, 253_402_300_799.0]  # 2000-02-29, 2100, 9999


def _moments(seed: int, n: int = 20_000) -> list[float]:
    draw = random.Random(seed)
    spread = [draw.uniform(0, 4e9) for _ in range(n)]
    return spread + [1.8e9 + draw.randint(0, 10**6) / 1e6 for _ in range(n)] + EDGES  # whole microseconds too


def _datetime_text(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def test_texts_are_datetimes_isoformat_for_any_moment_and_the_mock_writes_the_same_short_or_long():
    moments = _moments(11)
    expected = list(map(_datetime_text, moments))
    assert iso_texts(moments) == expected
    assert iso_utc(moments) == expected  # numpy
    assert iso_utc_by_second(moments) == expected
    assert iso_utc(EDGES) == iso_utc_by_second(EDGES) == list(map(_datetime_text, EDGES))  # short: Python


def test_texts_decline_moments_datetime_cannot_write_or_the_mock_never_makes():
    for odd in (-0.5, math.nan, math.inf, 253_402_300_800.0):
        assert iso_texts([1.8e9, odd]) is None
    assert iso_texts([]) == []


def test_seconds_are_fromisoformat_timestamp_for_every_text_of_the_form():
    texts = [t for t in map(_datetime_text, _moments(12)) if len(t) == 32]
    assert len(texts) > 39_000
    assert iso_seconds(texts) == [datetime.fromisoformat(t).timestamp() for t in texts]
    assert iso_seconds([]) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)), min_size=1))
def test_seconds_of_any_dates_and_times_match_datetime(moments):
    texts = [m.replace(tzinfo=UTC, microsecond=m.microsecond or 1).isoformat() for m in moments]
    seconds = iso_seconds(texts)
    expected = [datetime.fromisoformat(t).timestamp() for t in texts]
    # beyond 2**53 microseconds (about the year 2255) a float no longer holds each one: declined, datetime decides
    assert seconds == expected or (seconds is None and max(abs(s) for s in expected) >= 2**53 / 1e6)


def test_seconds_decline_every_text_not_of_the_form_even_one_in_a_column():
    good = "2026-12-06T12:00:00.123456+00:00"
    odd = [
        "0000-01-01T00:00:00.000001+00:00",  # year 0: not a datetime
        "2023-02-29T00:00:00.000001+00:00",  # not a leap year
        "1900-02-29T00:00:00.000001+00:00",
        "2024-04-31T00:00:00.000001+00:00",
        "2024-13-01T00:00:00.000001+00:00",
        "2024-00-01T00:00:00.000001+00:00",
        "2024-01-00T00:00:00.000001+00:00",
        "2024-12-31T24:00:00.000001+00:00",
        "2024-12-31T23:60:00.000001+00:00",
        "2024-12-31T23:59:60.000001+00:00",  # a leap second: datetime has none
        "2024-01-01T00:00:00.000001+01:00",  # another offset: datetime reads it, not this kernel
        "2024-01-01 00:00:00.000001+00:00",
        "2024-01-01T00:00:00+00:00",
        "2024-01-01T00:00:00.000001Z",
        "2024-01-01T00:00:00.00000a+00:00",
        "2024-01-01T00:00:00.000001+00:0é",
    ]
    for text in odd:
        assert iso_seconds([good, text]) is None, text
    assert iso_seconds([good, 1.8e9]) is None and iso_seconds([good, None]) is None
    # lengths that add up to the form's but are not each the form's
    assert iso_seconds([good[:-1], good + "0"]) is None


def test_the_column_checks_take_the_kernel_for_long_columns_and_datetime_for_the_rest():
    base = datetime(2026, 12, 6, tzinfo=UTC)
    utc = [(base + timedelta(seconds=i, microseconds=7)).isoformat() for i in range(utc_columns.SECONDS_FROM)]
    assert utc_columns.numpy_seconds(utc) is not None  # the kernel's form, and long enough for it
    assert aware_iso_seconds(utc) == [datetime.fromisoformat(t).timestamp() for t in utc]
    other = [t.replace("+00:00", "+02:00") for t in utc]  # not the kernel's form: datetime reads it
    assert aware_iso_seconds(other) == [datetime.fromisoformat(t).timestamp() for t in other]
    naive = [*utc[:-1], utc[-1].removesuffix("+00:00")]
    assert aware_iso_seconds(naive) is None
    start, end = datetime.fromisoformat(utc[0]).timestamp(), datetime.fromisoformat(utc[-1]).timestamp()
    assert all_times_good(utc, start, (start, end + 1))
    assert not all_times_good(utc, start + 1, None)  # the earliest is older than the floor
    assert not all_times_good(utc, None, (start, end))  # the latest is at the window's end
    late = [(base + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2))).isoformat()] * len(utc)
    assert all_times_good(late, None, None) and not all_times_good(late, None, (start, end))


def test_a_column_shorter_than_its_threshold_is_left_to_datetime():
    moments = [1.8e9 + i / 3 for i in range(utc_columns.TEXTS_FROM)]
    assert utc_columns.numpy_texts(moments) == iso_texts(moments) == list(map(_datetime_text, moments))
    assert utc_columns.numpy_texts(moments[:-1]) is None
    stamps = [_datetime_text(1.8e9 + i + 0.25) for i in range(utc_columns.SECONDS_FROM)]
    assert utc_columns.numpy_seconds(stamps) == [1.8e9 + i + 0.25 for i in range(len(stamps))]
    assert utc_columns.numpy_seconds(stamps[:-1]) is None

"""`WindowRule.windows_of` splits a batch over windows as `assign` and `carried` place each sample, whether it goes
row by row or, for a long batch, in numpy: the same windows, rows and order of windows."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tiro_models.validation.event_time import _NUMPY_ROWS_FROM, WindowRule


def _placed(rule: WindowRule, events: list[float], arrival: float) -> dict[float, list[int]]:
    """The definition: each sample in the window `assign` gives, and in the next one too when `carried`."""
    windows: dict[float, list[int]] = {}
    for row, event in enumerate(events):
        start = rule.assign(event, arrival)[0]
        windows.setdefault(start, []).append(row)
        if rule.carried(event, start):
            windows.setdefault(start + rule.retention, []).append(row)
    return windows


@settings(max_examples=60, deadline=None)
@given(
    retention=st.sampled_from([1.0, 5.0, 7.0, 10.0, 60.0]),
    lateness_share=st.floats(0, 1),
    origin=st.sampled_from([0.0, 3.5]),
    offsets=st.lists(
        st.one_of(st.floats(-40, 20), st.integers(-6, 2).map(float), st.just(math.nan)),
        min_size=_NUMPY_ROWS_FROM,
        max_size=_NUMPY_ROWS_FROM + 200,
    ),
)
def test_a_long_batch_is_split_as_each_sample_is_placed(retention, lateness_share, origin, offsets):
    rule = WindowRule(retention, retention * lateness_share, origin)
    arrival = 1_800_000_000.0 + 0.25
    # whole-window offsets land on boundaries, NaN counts where it arrives, far back is stale, far ahead is skew
    events = [arrival + offset * (retention if offset.is_integer() else 1.0) for offset in offsets]
    expected = _placed(rule, events, arrival)
    got = rule.windows_of(events, arrival)
    if got == {start: None for start in got}:  # the usual batch: all rows in each window
        assert all(rows == list(range(len(events))) for rows in expected.values()) and list(got) == list(expected)
        return
    assert list(got.items()) == list(expected.items())
    assert list(rule._windows_by_row(events, arrival).items()) == list(expected.items())

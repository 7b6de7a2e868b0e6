"""Flux generated for InfluxDB reads: user values stay inside string literals whatever they contain."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiro.stores.influx import history_from_rows, latest_from_rows
from tiro.stores.influx_flux import flux_string, history_query, latest_query
from tiro_models.paths import format_regex

_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t"}

INJECTIONS = [
    'x") |> drop(columns: ["_value"]) //',
    '${secrets.get(key: "token")}',
    'a\\" |> yield()',
    "line\nbreak",
    "%%Rack%Active Power\\",
    "/.*/",
]


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), body, flags=re.S)


def _skeleton(flux: str) -> tuple[str, list[str]]:
    """The query with every string literal replaced by a placeholder, and the literals' decoded contents."""
    values = [_unescape(m.group(1)) for m in _LITERAL.finditer(flux)]
    return _LITERAL.sub('"?"', flux), values


def test_flux_string_escapes_quotes_backslashes_interpolation_and_newlines():
    assert flux_string('a"b\\c${d}\n') == '"a\\"b\\\\c\\${d}\\n"'


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_attempts_in_patterns_and_names_stay_data(payload):
    benign, _ = _skeleton(latest_query("tiro", "tiro_telemetry", "%%Rack%ActivePower"))
    skeleton, values = _skeleton(latest_query(payload, payload, payload))
    assert skeleton == benign
    assert values == ["regexp", format_regex(payload), payload, payload]
    assert "${" not in _LITERAL.sub("", latest_query(payload, payload, payload))


@given(st.text(max_size=40))
def test_any_text_round_trips_through_a_literal_and_keeps_the_query_shape(text):
    flux = history_query(text, "tiro_telemetry", text, since=0, until=60, step=10, agg="max")
    skeleton, values = _skeleton(flux)
    assert skeleton == _skeleton(history_query("b", "m", "p", since=0, until=60, step=10, agg="max"))[0]
    assert values[1] == format_regex(text) and values[2] == text


def test_latest_without_pattern_reads_every_series_of_the_measurement():
    flux = latest_query("tiro", "tiro_telemetry")
    assert "regexp" not in flux and "r.path" not in flux
    assert flux.splitlines()[-1].strip() == "|> last()"
    assert 'r._measurement == "tiro_telemetry"' in flux


def test_history_bounds_are_nanosecond_times_and_windows_use_the_aggregation():
    flux = history_query("tiro", "tiro_telemetry", "%%Rack%%", since=1.5, until=61.25, step=30, agg="sum")
    assert "range(start: time(v: 1500000000), stop: time(v: 61250000000))" in flux
    assert 'aggregateWindow(every: 30000ms, fn: sum, createEmpty: false, timeSrc: "_start")' in flux
    open_ended = history_query("tiro", "m", "%%", since=0)
    assert "aggregateWindow" not in open_ended
    assert "stop: time(v: 4102444800000000000)" in open_ended  # not now(): future timestamps are found too
    assert "range(start: time(v: 0), stop: time(v: 4102444800000000000))" in latest_query("tiro", "m")


@pytest.mark.parametrize("agg", ["median", "mean) |> yield(", ""])
def test_unknown_aggregation_is_refused_not_spliced_into_the_query(agg):
    with pytest.raises(ValueError, match="unknown aggregation"):
        history_query("tiro", "m", "%%", since=0, step=10, agg=agg)


def test_non_positive_step_is_refused():
    with pytest.raises(ValueError, match="step must be positive"):
        history_query("tiro", "m", "%%", since=0, step=0)


def _row(asset, field, value, t, unit=None, category="Telemetry"):
    from datetime import UTC, datetime

    row = {"asset_path": asset, "type": category, "_field": field, "_value": value}
    row["_time"] = datetime.fromtimestamp(t, UTC)
    if unit:
        row["unit"] = unit
    return row


def test_latest_rows_become_samples_per_data_point_path_newest_series_wins():
    rows = [
        _row("DataHall.dh 0.Rack.r.1", "ActivePower", 3.5, 100.0, "kW"),
        _row("DataHall.dh 0.Rack.r.1", "ActivePower", 4.5, 200.0, "W"),  # unit changed: a second series
        _row("DataHall.dh 0.Rack.r.1", "ActivePower", 2.5, 150.0, "kW"),
        {"_field": "x", "_value": 1},  # a row without tags (not ours) is ignored
    ]
    latest = latest_from_rows(rows)
    assert list(latest) == ["DataHall.dh 0.Rack.r.1.Telemetry.ActivePower"]
    sample = latest["DataHall.dh 0.Rack.r.1.Telemetry.ActivePower"]
    assert (sample.value, sample.timestamp, sample.unit) == (4.5, 200.0, "W")


def test_history_rows_are_sorted_by_time_per_path():
    rows = [_row("A.a", "P", 2, 20.0), _row("A.a", "P", 1, 10.0), _row("A.b", "P", 5, 5.0)]
    assert history_from_rows(rows) == {"A.a.Telemetry.P": [(10.0, 1), (20.0, 2)], "A.b.Telemetry.P": [(5.0, 5)]}

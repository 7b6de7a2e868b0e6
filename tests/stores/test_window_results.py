"""Window results kept for history: sqlite table next to the telemetry, InfluxDB measurement (VictoriaMetrics)."""

from __future__ import annotations

import pytest
from victoria import VictoriaMetrics, skip_without_victoria

from tiro.stores.urls import open_telemetry_store
from tiro.stores.window_results import WindowResult, open_window_results
from tiro.stores.window_results_influx import InfluxWindowResults, recent_query

REPORT = {
    "start": "2026-01-05T10:30:22+00:00",
    "end": "2026-01-05T10:30:52+00:00",
    "valid": False,
    "completeness": 0.75,
    "counts": {"expected": 8, "received": 7, "missing": 1, "invalid": 1, "unknown": 0},
    "errors": [{"path": "a", "msg": "m", "type": "missing"}, {"path": "b", "msg": "m", "type": "x"}],
    "messages": 4,
    "late": 1,
}


def test_a_report_becomes_a_record() -> None:
    result = WindowResult.from_report(REPORT)
    assert (result.end - result.start, result.valid, result.completeness) == (30.0, False, 0.75)
    assert (result.expected, result.missing, result.errors, result.messages, result.late) == (8, 1, 2, 4, 1)


def test_sqlite_history_survives_reopening_and_shares_the_telemetry_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    telemetry = open_telemetry_store(url)
    telemetry.bootstrap()
    store = open_window_results(url)
    first = WindowResult.from_report(REPORT)
    for i in range(5):
        store.write(WindowResult(**{**first.to_dict(), "start": first.start + 30 * i, "end": first.end + 30 * i}))
    store.write(WindowResult(**{**first.to_dict(), "valid": True, "completeness": 1.0}))  # the first window revised
    store.write(WindowResult(**{**first.to_dict(), "source": "aggregator"}))
    store.close()
    again = open_window_results(url)
    recent = again.recent(3, source="flow")
    assert [r.end - first.end for r in recent] == [60, 90, 120]  # the last three, oldest first
    everything = again.recent(100, source="flow")
    assert len(everything) == 5 and everything[0].valid is True and everything[0].completeness == 1.0
    assert len(again.recent(100)) == 6
    again.close()
    assert telemetry.latest() == {}  # the telemetry tables are untouched
    telemetry.close()


def test_flux_query_of_recent_windows_quotes_the_source() -> None:
    flux = recent_query("tiro", 7, source='x" or true')
    assert 'r._measurement == "tiro_window_results"' in flux
    assert 'r.source == "x\\" or true"' in flux and "limit(n: 7)" in flux


@pytest.fixture(scope="module")
def victoria():
    skip_without_victoria()
    with VictoriaMetrics() as vm:
        yield vm


def test_influx_points_reach_victoria_metrics(victoria) -> None:
    store = open_window_results(f"influx+{victoria.url}", token="t", bucket="windows")
    assert isinstance(store, InfluxWindowResults)
    result = WindowResult.from_report(REPORT)
    store.write(result)
    store.close()
    assert victoria.wait_for_points("tiro_window_results_late", 1)  # the last line of the window's point
    by_field = {}
    for series in victoria.export('{__name__=~"tiro_window_results_.*"}'):
        assert series["metric"]["source"] == "flow"
        assert series["timestamps"] == [int(result.end * 1000)]
        by_field[series["metric"]["__name__"].removeprefix("tiro_window_results_")] = series["values"][0]
    assert len(by_field) == 11
    assert by_field["completeness"] == 0.75 and by_field["valid"] == 0 and by_field["missing"] == 1
    assert by_field["start"] == result.start

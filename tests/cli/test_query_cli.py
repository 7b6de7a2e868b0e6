"""`tiro query latest|history` against a sqlite store written through the store API."""

from __future__ import annotations

import json
import time

import pytest
from cli_stores import store_records

from tiro.cli.query_cmd import parse_duration, parse_time
from tiro_models.records import decompose_point

HALL = "DataHall.data_hall_0"
CRAC = f"{HALL}.CRAC.crac_0"
SERVER = f"{HALL}.Rack.rack_0.Server.server_1"


def rec(asset, name, value, ts, unit=None, category="Telemetry"):
    dp = {"value": value, "timestamp": ts}
    if unit:
        dp["unit"] = unit
    return decompose_point(f"{asset}.{category}.{name}", dp)


@pytest.fixture
def store(tmp_path):
    """A sqlite store with 10 minutes of per-minute FlowRate samples and latest CRAC values."""
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    now = time.time()
    start = (now // 60) * 60 - 600
    records = [rec(SERVER, "FlowRate", float(i), start + 60 * i + 1, "L/hr") for i in range(10)]
    records += [rec(CRAC, "ActivePower", 812.5, now, "W"), rec(CRAC, "Mode", "cooling", now, category="Attribute")]
    return store_records(url, records)


def test_latest_by_pattern_as_json_and_text(run, store):
    result = run("query", "latest", "%%CRAC%%", "--store", store, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {f"{CRAC}.Telemetry.ActivePower", f"{CRAC}.Attribute.Mode"}
    assert data[f"{CRAC}.Telemetry.ActivePower"]["value"] == 812.5
    assert data[f"{CRAC}.Telemetry.ActivePower"]["unit"] == "W"
    text = run("query", "latest", "%%CRAC%ActivePower", "--store", store)
    assert text.exit_code == 0
    assert f"{CRAC}.Telemetry.ActivePower  812.5 W" in text.output
    assert run("query", "latest", "%%Nothing", "--store", store).output.strip() == "no data"


def test_latest_from_the_graph_with_max_age(run, store):
    result = run("query", "latest", "%%Server%%", "--store", store, "--source", "graph", "--max-age", "30", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {}  # the last FlowRate is over a minute old
    result = run("query", "latest", "%%Server%%", "--store", store, "--source", "graph", "--json")
    assert json.loads(result.output)[f"{SERVER}.Telemetry.FlowRate"]["value"] == 9.0


def test_latest_by_qpath_file(run, store, tmp_path):
    qpath = tmp_path / "status.yaml"
    qpath.write_text(
        "DataHall:\n  CRAC:\n    ActivePower: {$gt: 800}\n  Rack:\n    Server:\n      FlowRate: {$lt: 5}\n"
    )
    result = run("query", "latest", str(qpath), "--store", store, "--json")
    assert result.exit_code == 0, result.output
    hall = json.loads(result.output)["DataHall"]["data_hall_0"]
    assert hall["CRAC"]["crac_0"]["Telemetry"]["ActivePower"]["value"] == 812.5
    assert "Rack" not in hall  # the last FlowRate is 9.0, not < 5
    text = run("query", "latest", str(qpath), "--store", store)
    assert "ActivePower: 812.5 W" in text.output


def test_a_qpath_file_that_does_not_exist_is_an_error_not_an_empty_answer(run, store, tmp_path):
    result = run("query", "latest", str(tmp_path / "status.yaml"), "--store", store)
    assert result.exit_code == 2
    assert "status.yaml: no such qpath file" in result.output and "no data" not in result.output


def test_history_with_step_and_aggregation(run, store):
    result = run(
        "query", "history", "%%FlowRate", "--since", "20m", "--step", "5m", "--agg", "sum", "--store", store, "--json"
    )
    assert result.exit_code == 0, result.output
    (points,) = json.loads(result.output).values()
    assert sum(v for _, v in points) == sum(range(10))
    assert all(ts % 300 == 0 for ts, _ in points)
    raw = run("query", "history", "%%FlowRate", "--since", "1h", "--store", store, "--json")
    assert [v for _, v in json.loads(raw.output)[f"{SERVER}.Telemetry.FlowRate"]] == [float(i) for i in range(10)]
    text = run("query", "history", "%%FlowRate", "--since", "1h", "--step", "1h", "--agg", "max", "--store", store)
    assert SERVER in text.output and "9.0" in text.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("latest", "%%", "--store", "sqlite:///does/not/exist.db"), "no such sqlite database"),
        (("latest", "%%", "--store", "ftp://x"), "unsupported scheme"),
        (("history", "%%", "--agg", "median"), "--agg must be one of"),
        (("history", "%%", "--since", "yesterday"), "invalid time"),
        (("history", "%%", "--step", "5 minutes"), "invalid duration"),
        (("latest", "%%(", "--source", "graph"), "invalid %-pattern"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run, store, args, message):
    args = list(args)
    if "--store" not in args:
        args += ["--store", store]
    result = run("query", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_a_bad_qpath_file_names_file_and_line(run, store, tmp_path):
    qpath = tmp_path / "bad.yaml"
    qpath.write_text("DataHall:\n  CRAC:\n    ActivePower: {$lte: 3}\n")
    result = run("query", "latest", str(qpath), "--store", store)
    assert result.exit_code == 2
    assert f"{qpath}:3:" in result.output and "$lte" in result.output


def test_durations_and_times():
    assert parse_duration("90") == 90 and parse_duration("15m") == 900 and parse_duration("2d") == 172800
    assert parse_duration("250ms") == 0.25
    now = 1_800_000_000.0
    assert parse_time("1h", now) == now - 3600
    assert parse_time("now", now) == now
    assert parse_time("1799990000", now) == 1799990000
    assert parse_time("2027-01-15T08:00:00Z", now) == 1_800_000_000.0
    assert parse_time("2027-01-15T08:00:00", now) == 1_800_000_000.0

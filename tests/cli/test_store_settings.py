"""Tiro's settings (tiro.settings): one decision for the store URLs and the mock URL, used by `tiro query` too."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cli_stores import store_records

from tiro.settings import SettingsError, mock_port, mock_url, service_environment, store_urls
from tiro_models.records import decompose_point

CRAC = "DataHall.data_hall_0.CRAC.crac_0"


def test_each_store_url_comes_from_its_own_variable_then_the_shared_one_then_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store_urls(environ={}).telemetry == f"sqlite:///{tmp_path / 'tiro.db'}"  # relative to where it runs
    both = {"TIRO_STORE": "sqlite:///one.db"}
    assert store_urls(environ=both) == store_urls(environ={**both, "TIRO_GRAPH_URL": ""})
    assert store_urls(environ=both).graph == f"sqlite:///{tmp_path / 'one.db'}"
    split = {**both, "TIRO_TELEMETRY_URL": "influx+http://influx:8086?org=o&bucket=b", "TIRO_GRAPH_URL": "none"}
    urls = store_urls(environ=split)
    assert urls.telemetry == "influx+http://influx:8086?org=o&bucket=b" and urls.graph is None
    assert store_urls("sqlite:////abs/t.db", "sqlite://", environ=split).graph == "sqlite://"  # given ones win
    assert store_urls("sqlite:////abs/t.db", environ=split).telemetry == "sqlite:////abs/t.db"


def test_the_mock_url_names_its_variable_when_it_has_no_port():
    assert mock_url({}) == "http://localhost:8000" and mock_port({}) == 8000
    assert mock_port({"TIRO_MOCK_URL": "http://127.0.0.1:8123/"}) == 8123
    with pytest.raises(SettingsError, match="TIRO_MOCK_URL='localhost'"):
        mock_url({"TIRO_MOCK_URL": "localhost"})


def test_the_service_environment_is_resolved_for_a_config_read_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = service_environment({"TIRO_STORE": "sqlite:///tiro.db", "TIRO_GRAPH_URL": "none"})
    assert env == {"TIRO_TELEMETRY_URL": f"sqlite:///{tmp_path / 'tiro.db'}", "TIRO_MOCK_URL": "http://localhost:8000"}


def _store_with(path: Path, value: float) -> str:
    url = f"sqlite:///{path}"
    records = [decompose_point(f"{CRAC}.Telemetry.ActivePower", {"value": value, "timestamp": time.time()})]
    return store_records(url, records)


def test_query_reads_the_stores_the_flows_write(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _store_with(tmp_path / "tiro.db", 1.0)
    _store_with(tmp_path / "graph.db", 2.0)
    for name in ("TIRO_STORE", "TIRO_TELEMETRY_URL", "TIRO_GRAPH_URL"):
        monkeypatch.delenv(name, raising=False)

    def latest(*extra: str) -> float:
        result = run("query", "latest", "%%ActivePower", "--json", *extra)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)[f"{CRAC}.Telemetry.ActivePower"]["value"]

    assert latest() == 1.0  # the default: sqlite:///tiro.db here
    monkeypatch.setenv("TIRO_STORE", "sqlite:///graph.db")
    assert latest() == 2.0
    monkeypatch.setenv("TIRO_TELEMETRY_URL", "sqlite:///tiro.db")
    monkeypatch.setenv("TIRO_GRAPH_URL", "sqlite:///graph.db")
    assert latest() == 1.0  # telemetry from its own variable
    assert latest("--source", "graph") == 2.0  # the graph from its own
    monkeypatch.setenv("TIRO_TELEMETRY_URL", "sqlite:///missing.db")
    result = run("query", "latest", "%%ActivePower")
    assert result.exit_code == 2
    assert f"{tmp_path / 'missing.db'}: no such sqlite database" in result.output

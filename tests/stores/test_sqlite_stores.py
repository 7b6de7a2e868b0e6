"""sqlite specifics: store URLs, persistence, WAL and concurrency, retention, odd values, errors naming the input."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlite_records import CRAC, T0, rec

from tiro.stores.sqlite.codec import decode_value, encode_value
from tiro.stores.sqlite.graph import SqliteGraphStore
from tiro.stores.sqlite.telemetry import SqliteTelemetryStore
from tiro.stores.urls import (
    StoreURL,
    StoreURLError,
    open_graph_store,
    open_telemetry_store,
    parse_store_url,
    redact_url,
)
from tiro_models.errors import SnapshotError
from tiro_models.instances import instantiate


@pytest.mark.parametrize(
    ("url", "store", "expected"),
    [
        ("sqlite://", "telemetry", StoreURL("sqlite", None)),
        ("sqlite:///:memory:", "graph", StoreURL("sqlite", None)),
        ("sqlite:///tiro.db", "telemetry", StoreURL("sqlite", "tiro.db")),
        ("sqlite:////var/lib/tiro.db", "graph", StoreURL("sqlite", "/var/lib/tiro.db")),
        ("data/tiro.sqlite", "graph", StoreURL("sqlite", "data/tiro.sqlite")),
        ("influx+http://influx:8086", "telemetry", StoreURL("influx", "http://influx:8086")),
        ("arango+https://db:8529/x", "graph", StoreURL("arango", "https://db:8529/x")),
        ("http://influx:8086", "telemetry", StoreURL("influx", "http://influx:8086")),
        ("http://arango:8529", "graph", StoreURL("arango", "http://arango:8529")),
    ],
)
def test_parse_store_url(url, store, expected):
    assert parse_store_url(url, store=store) == expected


@pytest.mark.parametrize(
    ("url", "kind", "message"),
    [
        ("", None, "empty store URL"),
        ("tiro", None, "has no scheme"),
        ("sqlite://tiro.db", None, "sqlite:///relative.db"),
        ("mysql://h/db", None, "unsupported scheme"),
        ("redis+http://h", None, "unknown backend"),
        ("influx+http://h", "arango", "names influx"),
        ("http://h", "postgres", "unknown store kind"),
    ],
)
def test_bad_store_urls_are_clear_errors(url, kind, message):
    with pytest.raises(StoreURLError, match=message):
        parse_store_url(url, kind=kind)


def test_kind_overrides_and_backends_without_a_store_kind():
    assert parse_store_url("http://h:8529", store="telemetry", kind="arango") == StoreURL("arango", "http://h:8529")
    with pytest.raises(StoreURLError, match="arango backend has no telemetry store"):
        open_telemetry_store("arango+http://h:8529")
    with pytest.raises(StoreURLError, match="influx backend has no graph store"):
        open_graph_store("influx+http://h:8086")


def test_redact_url_hides_passwords():
    assert redact_url("arango+http://root:s3cret@db:8529") == "arango+http://root:***@db:8529"
    assert redact_url("sqlite:///tiro.db") == "sqlite:///tiro.db"


def test_a_file_store_persists_across_reopening_and_uses_wal(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    store = open_telemetry_store(url)
    store.bootstrap()
    store.write_records([rec("ActivePower", 1.5, T0, "W")])
    store.close()
    again = open_telemetry_store(url)
    assert again.latest()[f"{CRAC}.Telemetry.ActivePower"].value == 1.5
    again.close()
    with sqlite3.connect(tmp_path / "tiro.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_telemetry_and_graph_share_one_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    telemetry, graph = open_telemetry_store(url), open_graph_store(url)
    records = [rec("ActivePower", float(i), T0 + i, "W") for i in range(3)]
    telemetry.write_records(records)
    graph.upsert_records(records)
    assert telemetry.latest() == graph.latest()
    assert len(telemetry.history("%%", since=T0)[f"{CRAC}.Telemetry.ActivePower"]) == 3
    telemetry.close()
    graph.close()


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        open_telemetry_store(f"sqlite:///{tmp_path / 'nope' / 'tiro.db'}")
    assert info.value.filename.endswith("tiro.db")


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None]}, [1, "x"], 2**70, -(2**70), None, "", 0, 0.0, float("inf")])
def test_odd_values_round_trip(value):
    assert decode_value(*encode_value(value)) == value
    assert type(decode_value(*encode_value(value))) is type(value)


def test_odd_values_in_both_stores():
    records = [
        rec("Config", {"mode": "eco", "levels": [1, 2]}, T0),
        rec("Counter", 2**64, T0),
        rec("Nothing", None, T0),
    ]
    telemetry, graph = SqliteTelemetryStore(), SqliteGraphStore()
    telemetry.write_records(records)
    graph.upsert_records(records)
    for store in (telemetry, graph):
        latest = store.latest()
        assert [latest[f"{CRAC}.Telemetry.{n}"].value for n in ("Config", "Counter", "Nothing")] == [
            {"mode": "eco", "levels": [1, 2]},
            2**64,
            None,
        ]


def test_iso_and_missing_timestamps():
    store, graph = SqliteTelemetryStore(), SqliteGraphStore()
    before = time.time()
    records = [rec("A", 1.0, "2027-01-15T08:00:00+00:00"), rec("B", 2.0, "2027-01-15T08:00:00"), rec("C", 3.0, None)]
    store.write_records(records)
    graph.upsert_records(records)
    for latest in (store.latest(), graph.latest()):
        assert latest[f"{CRAC}.Telemetry.A"].timestamp == datetime(2027, 1, 15, 8, tzinfo=UTC).timestamp()
        assert latest[f"{CRAC}.Telemetry.A"].timestamp == latest[f"{CRAC}.Telemetry.B"].timestamp  # naive is UTC
        assert latest[f"{CRAC}.Telemetry.C"].timestamp >= before - 1


def test_bad_records_and_lines_name_what_is_wrong():
    store, graph = SqliteTelemetryStore(), SqliteGraphStore()
    with pytest.raises(SnapshotError, match="missing key 'field'"):
        store.write_records([{"asset_path": CRAC, "type": "Telemetry", "value": 1}])
    with pytest.raises(SnapshotError, match=r"crac_0.Telemetry.X: timestamp 'yesterday'"):
        store.write_records([rec("X", 1, "yesterday")])
    with pytest.raises(SnapshotError, match="line protocol"):
        store.write_lines(["tiro_telemetry,asset_path=A.a,type=Telemetry X=1 notatime"])
    with pytest.raises(SnapshotError, match="no asset_path/type tags"):
        store.write_lines(["cpu,host=a usage=1 1"])
    for bad in ("DataHall", "", "DataHall.a..b"):
        with pytest.raises(SnapshotError, match=r"asset path|empty segment|not a data-point record"):
            store.write_records([{"asset_path": bad, "type": "Telemetry", "field": "X", "value": 1}])
    with pytest.raises(SnapshotError, match="not a data-point record"):
        store.write_records([{"asset_path": CRAC, "type": "Metric", "field": "X", "value": 1}])
    with pytest.raises(SnapshotError, match="malformed asset path"):
        graph.upsert_records([{"asset_path": "DataHall", "type": "Telemetry", "field": "X", "value": 1}])
    with pytest.raises(SnapshotError, match="type must be one of"):
        graph.upsert_records([{"asset_path": CRAC, "type": "Metric", "field": "X", "value": 1}])
    assert store.latest() == {} and graph.latest() == {}  # a failed batch writes nothing


def test_a_failed_batch_is_rolled_back_entirely():
    store = SqliteTelemetryStore()
    good = [rec("A", 1.0, T0, "W"), rec("B", 2.0, T0)]
    with pytest.raises(SnapshotError):
        store.write_records([*good, {"asset_path": CRAC}])
    assert store.latest() == {}
    store.write_records(good)  # series ids handed out in the failed transaction are not reused wrongly
    assert {p.rsplit(".", 1)[1]: s.value for p, s in store.latest().items()} == {"A": 1.0, "B": 2.0}


def test_retention_prunes_old_samples():
    store = SqliteTelemetryStore(retention=3600)
    now = time.time()
    store.write_records([rec("A", float(i), now - age) for i, age in enumerate((7200, 4000, 10))])
    assert store.prune(now) == 2  # pruning runs at bootstrap, then at most once a minute while writing
    assert [v for _, v in store.history("%%", since=0)[f"{CRAC}.Telemetry.A"]] == [2.0]
    report = SqliteTelemetryStore(retention=1).bootstrap()
    assert report.removed == []


def test_retention_keeps_the_newest_sample_of_a_series_that_went_quiet():
    store = SqliteTelemetryStore(retention=3600)
    now = time.time()
    store.write_records([rec("Quiet", float(i), now - age) for i, age in enumerate((9000, 8000, 7200))])
    store.write_records([rec("Busy", float(i), now - age) for i, age in enumerate((7200, 10))])
    assert store.prune(now) == 3  # Quiet's two older samples and Busy's old one
    assert store.latest()[f"{CRAC}.Telemetry.Quiet"].value == 2.0
    assert store.history("%%", since=now - 3600) == {f"{CRAC}.Telemetry.Busy": [(pytest.approx(now - 10), 1.0)]}


def test_one_writer_and_concurrent_readers(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    store = open_telemetry_store(url)
    store.bootstrap()
    batches, per_batch = 40, 250
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for b in range(batches):
                store.write_records(
                    [rec(f"P{i % 50}", float(b), T0 + b * per_batch + i, "W") for i in range(per_batch)]
                )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                latest = store.latest("%%CRAC%P%%")
                assert all(isinstance(s.value, float) for s in latest.values())
                store.history("%%", since=T0, step=60, agg="max")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = store.history("%%", since=T0)
    assert sum(map(len, history.values())) == batches * per_batch
    store.close()


def test_graph_bootstrap_reports_only_changes(tmp_path, full_model, no_crac_model):
    graph = open_graph_store(f"sqlite:///{tmp_path / 'g.db'}")
    first = graph.bootstrap(full_model)
    assert "vertex collection CRAC" in first.created and "edge collection is_parent_of" in first.created
    second = graph.bootstrap(no_crac_model)
    assert second.created == [] and second.removed == ["vertex collection CRAC"]
    graph.close()


def test_assets_removed_by_another_store_come_back_with_new_data(tmp_path, full_model):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    writer, syncer = open_graph_store(url), open_graph_store(url)
    server = "DataHall.data_hall_0.Rack.rack_0.Server.server_0"
    writer.upsert_records([rec("FlowRate", 5.0, T0, "L/hr", asset=server)])
    assert (
        f"asset {server}" in syncer.bootstrap(full_model, replace(instantiate(full_model, seed=3), assets=[])).removed
    )
    writer.upsert_records([rec("FlowRate", 6.0, T0 + 1, "L/hr", asset=server)])
    result = syncer.query_qpath({"DataHall": {"Rack": {"Server": {"FlowRate": None}}}})
    assert (
        result["DataHall"]["data_hall_0"]["Rack"]["rack_0"]["Server"]["server_0"]["Telemetry"]["FlowRate"]["value"]
        == 6.0
    )
    writer.close()
    syncer.close()

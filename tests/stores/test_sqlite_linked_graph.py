"""A sqlite graph store linked to the telemetry store of its file: samples written once, values read from telemetry."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace

import pytest
from sqlite_records import CRAC, SERVER, T0, rec, values

from tiro.stores.sqlite.database import SqliteDatabase
from tiro.stores.sqlite.graph import SqliteGraphStore
from tiro.stores.sqlite.telemetry import SqliteTelemetryStore
from tiro_models.instances import instantiate


def count(db: SqliteDatabase, table: str) -> int:
    return db.read(f"SELECT count(*) FROM {table}")[0][0]


@pytest.fixture
def linked(tmp_path):
    telemetry = SqliteTelemetryStore(str(tmp_path / "both.db"))
    graph = SqliteGraphStore(telemetry=telemetry)
    yield graph
    graph.close()


def test_each_sample_is_written_once_as_telemetry_and_read_by_the_graph(linked):
    batches = [
        [rec("A", 1.0, T0, "W"), rec("B", "on", T0), rec("C", True, T0, asset=SERVER, category="Attribute")],
        [rec("A", 2.0, T0 + 1, "kW"), rec("A", 0.5, T0 - 1, "kW"), rec("B", {"x": [1]}, T0 + 1)],
    ]
    for batch in batches:
        assert linked.upsert_records(batch) == len(batch)
    db = linked.db
    assert count(db, "graph_values") == 0 and count(db, "telemetry_samples") == 6
    assert values(linked) == {"A": (2.0, T0 + 1, "kW"), "B": ({"x": [1]}, T0 + 1, None), "C": (True, T0, None)}
    assert linked.latest() == linked.telemetry.latest()
    tree = linked.query_qpath({"DataHall": {"CRAC": {"A": None}}})
    assert tree["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]["A"] == {
        "value": 2.0,
        "timestamp": T0 + 1,
        "unit": "kW",
    }
    edges = db.read("SELECT _from, _to FROM has_data_point ORDER BY _to")
    assert edges == [(CRAC, f"{CRAC}.Telemetry.A"), (CRAC, f"{CRAC}.Telemetry.B"), (SERVER, f"{SERVER}.Attribute.C")]
    assert db.read("SELECT value, ts FROM graph_points WHERE name = 'A'") == [(2.0, T0 + 1)]


def test_the_newer_of_a_graph_value_and_the_telemetry_sample_is_the_value(tmp_path):
    path = str(tmp_path / "both.db")
    own = SqliteGraphStore(path)  # a graph store on its own, writing graph_values into the same file
    telemetry = SqliteTelemetryStore(path)
    own.upsert_records([rec("A", "graph", T0 + 5)])
    telemetry.write_records([rec("A", "older telemetry", T0 + 3)])
    assert values(own)["A"] == ("graph", T0 + 5, None)
    telemetry.write_records([rec("A", "newer telemetry", T0 + 7, "W")])
    assert values(own)["A"] == ("newer telemetry", T0 + 7, "W")
    own.upsert_records([rec("A", "graph again", T0 + 7.5)])
    telemetry.write_records([rec("A", "same time", T0 + 7.5)])  # equal timestamps: telemetry's
    assert values(own)["A"] == ("same time", T0 + 7.5, None)
    assert own.latest(max_age=None) == own.latest("%%CRAC%A")
    own.close()
    telemetry.close()


def test_freshness_counts_the_newer_of_the_two(linked, full_model):
    now = time.time()
    linked.bootstrap(full_model, instantiate(full_model, seed=3))  # attribute defaults: graph values stamped now
    linked.upsert_records([rec("ActivePower", 1.0, now - 3600, "W"), rec("FanSpeed", 2.0, now - 1, "%")])
    fresh = linked.latest(max_age=60)
    assert f"{CRAC}.Telemetry.FanSpeed" in fresh and f"{CRAC}.Telemetry.ActivePower" not in fresh
    missing = linked.attributes_and_missing(full_model, max_age=60)
    assert missing[f"{CRAC}.Telemetry.ActivePower"] is None
    assert missing[f"{CRAC}.Telemetry.FanSpeed"].value == 2.0


def test_points_come_back_after_another_store_removed_their_assets(tmp_path, full_model):
    path = str(tmp_path / "both.db")
    writer = SqliteGraphStore(telemetry=SqliteTelemetryStore(path))
    syncer = SqliteGraphStore(path)
    batch = [rec("FlowRate", 5.0, T0, "L/hr", asset=SERVER), rec("ActivePower", 9.0, T0, "W")]
    writer.upsert_records(batch)
    removed = syncer.bootstrap(full_model, replace(instantiate(full_model, seed=3), assets=[])).removed
    assert f"asset {SERVER}" in removed
    assert syncer.latest() == {}  # the telemetry history stays; the graph has no such points any more
    writer.upsert_records(batch)  # known series, but the writer must not trust what it stored before the sync
    assert set(values(syncer)) == {"FlowRate", "ActivePower"}
    writer.close()
    syncer.close()


def test_retention_keeps_the_value_the_graph_reads(tmp_path):
    telemetry = SqliteTelemetryStore(str(tmp_path / "both.db"), retention=60)
    graph = SqliteGraphStore(telemetry=telemetry)
    now = time.time()
    graph.upsert_records([rec("A", float(i), now - 3600 + i) for i in range(3)])
    assert telemetry.prune(now) == 2
    assert values(graph)["A"] == (2.0, pytest.approx(now - 3598), None)
    graph.close()


def test_a_file_with_the_earlier_views_gets_the_views_that_read_telemetry(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the views as the graph store defined them before it read telemetry
        conn.executescript(
            "CREATE TABLE graph_dps (id INTEGER PRIMARY KEY, dp_path TEXT NOT NULL UNIQUE, asset_path TEXT NOT NULL,"
            " category TEXT NOT NULL, name TEXT NOT NULL, type_path TEXT NOT NULL);"
            "CREATE TABLE graph_values (id INTEGER PRIMARY KEY, value, kind TEXT, unit TEXT, ts REAL);"
            "CREATE VIEW graph_points AS SELECT d.dp_path, d.asset_path, d.category, d.name, d.type_path, v.value,"
            " v.kind, v.unit, v.ts FROM graph_dps d JOIN graph_values v ON v.id = d.id;"
            "CREATE VIEW has_data_point AS SELECT asset_path AS _from, dp_path AS _to, name AS next_category"
            " FROM graph_points;"
            "CREATE TABLE graph_assets (path TEXT PRIMARY KEY, collection TEXT NOT NULL, name TEXT NOT NULL,"
            " type_path TEXT NOT NULL, parent TEXT NOT NULL) WITHOUT ROWID;"
            "CREATE VIEW is_parent_of AS SELECT CASE parent WHEN '' THEN 'Scenario/000' ELSE parent END AS _from,"
            " path AS _to, collection AS next_category FROM graph_assets;"
        )
    graph = SqliteGraphStore(telemetry=SqliteTelemetryStore(str(path)))
    graph.upsert_records([rec("A", 4.0, T0)])
    assert graph.db.read("SELECT dp_path, value FROM graph_points") == [(f"{CRAC}.Telemetry.A", 4.0)]
    graph.close()


def test_a_linked_graph_must_share_the_telemetry_database(tmp_path):
    telemetry = SqliteTelemetryStore(str(tmp_path / "a.db"))
    with pytest.raises(ValueError, match="that store's database"):
        SqliteGraphStore(str(tmp_path / "b.db"), telemetry=telemetry)
    with pytest.raises(ValueError, match="that store's database"):
        SqliteGraphStore(database=SqliteDatabase(None), telemetry=telemetry)
    telemetry.close()


def test_a_batch_of_known_points_costs_the_graph_one_read(linked):
    batch = [rec("A", 1.0, T0), rec("B", 2.0, T0, asset=SERVER)]
    linked.upsert_records(batch)
    statements: list[str] = []
    linked.db.writer.set_trace_callback(statements.append)
    linked.upsert_records([{**r, "timestamp": T0 + 1} for r in batch])
    graph_statements = [s for s in statements if "graph_" in s or s.startswith("BEGIN IMMEDIATE")]
    assert graph_statements == ["SELECT value FROM graph_meta WHERE key = 'topology'"]
    assert values(linked) == {"A": (1.0, T0 + 1, None), "B": (2.0, T0 + 1, None)}


def test_two_linked_writers_of_one_file_share_points_they_both_create(tmp_path):
    """As `karez deploy --workers 2` runs tiro_store: each process creates points the other may have created first."""
    path = str(tmp_path / "both.db")
    first = SqliteGraphStore(telemetry=SqliteTelemetryStore(path))
    second = SqliteGraphStore(telemetry=SqliteTelemetryStore(path))
    names = [f"P{i}" for i in range(30)]
    for round_ in range(4):
        writer, other = (first, second) if round_ % 2 == 0 else (second, first)
        writer.upsert_records([rec(name, float(round_), T0 + round_) for name in names[: 10 + 5 * round_]])
        other.upsert_records([rec(name, -1.0, T0 - 1, asset=SERVER) for name in names[round_::3]])
    assert count(first.db, "graph_dps") == 25 + 30 and count(first.db, "graph_values") == 0  # 25 CRAC, 30 server
    latest = second.latest()
    assert {path: sample.value for path, sample in latest.items() if path.startswith(CRAC)} == {
        f"{CRAC}.Telemetry.{name}": float(max(r for r in range(4) if i < 10 + 5 * r))
        for i, name in enumerate(names[:25])
    }
    assert {path: sample.value for path, sample in latest.items() if path.startswith(SERVER)} == {
        f"{SERVER}.Telemetry.{name}": -1.0 for name in names
    }
    first.close()
    second.close()

"""The sqlite graph write path: newest sample per point in a batch, no writes for replays, topology syncs by others."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace

import pytest
from sqlite_records import CRAC, SERVER, T0, rec, values

from tiro.stores.sqlite.graph import SqliteGraphStore
from tiro.stores.sqlite.rows import MultiRowInsert
from tiro_models.errors import SnapshotError
from tiro_models.instances import instantiate


def changes(graph: SqliteGraphStore) -> int:
    return graph.db.writer.total_changes


def test_multi_row_upsert_keeps_the_tail_clause():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v, n INTEGER NOT NULL DEFAULT 1)")
    upsert = MultiRowInsert(
        "INSERT INTO t (k, v)", width=2, max_rows=4, tail="ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = n + 1"
    )
    assert upsert.execute(conn.cursor(), [v for i in range(7) for v in (i, f"a{i}")]) == 7
    upsert.execute(conn.cursor(), [v for i in range(3, 10) for v in (i, f"b{i}")])
    assert conn.execute("SELECT k, v, n FROM t ORDER BY k").fetchall() == [
        *((i, f"a{i}", 1) for i in range(3)),
        *((i, f"b{i}", 2) for i in range(3, 7)),
        *((i, f"b{i}", 1) for i in range(7, 10)),
    ]


@pytest.mark.parametrize("stamp", [float, int])
def test_the_newest_sample_of_a_batch_wins_and_of_equal_ones_the_last(stamp):
    graph = SqliteGraphStore()
    batch = [
        rec("A", 3.0, stamp(T0 + 3), "W"),
        rec("A", 1.0, stamp(T0 + 1), "W"),  # late within the batch: older, never wins
        rec("B", "first", stamp(T0)),
        rec("B", "second", stamp(T0)),  # same timestamp: the later record wins, as a later batch would
        rec("C", 1, stamp(T0)),
    ]
    assert graph.upsert_records(batch) == len(batch)
    assert values(graph) == {"A": (3.0, T0 + 3, "W"), "B": ("second", T0, None), "C": (1, T0, None)}
    graph.upsert_records(iter([rec("A", 2.0, T0 + 2, "W"), rec("A", 4.0, T0 + 4, "kW"), rec("A", 0.0, T0)]))
    assert values(graph)["A"] == (4.0, T0 + 4, "kW")


def test_batches_of_mixed_timestamps_keep_the_same_rules():
    graph = SqliteGraphStore()
    at_t0 = "2027-01-15T08:00:00+00:00"  # T0 as ISO text
    graph.upsert_records(
        [
            rec("A", 2.0, "2027-01-15T08:00:01+00:00"),
            rec("A", 1.0, at_t0),
            rec("B", 1.0, int(T0)),
            rec("B", 5.0, at_t0),  # the same instant as the int: the later record wins
            rec("C", 3.0, None),  # now
            rec("C", 2.0, 1_000_000_000.0),  # 2001: before now
        ]
    )
    latest = values(graph)
    assert latest["A"] == (2.0, T0 + 1, None) and latest["B"] == (5.0, T0, None) and latest["C"][0] == 3.0
    before = time.time()
    graph.upsert_records([rec("D", 1.0, None), rec("D", 2.0, 1_000_000_000.0), rec("E", 3.0, None)])  # numbers, None
    latest = values(graph)
    assert latest["D"][0] == 1.0 and latest["D"][1] >= before and latest["E"][1] == latest["D"][1]


def test_a_replayed_batch_writes_nothing_and_a_changed_type_is_written():
    graph = SqliteGraphStore()
    batch = [rec("A", 1.0, T0, "W"), rec("B", True, T0), rec("C", {"x": [1]}, T0), rec("D", 7, T0, asset=SERVER)]
    graph.upsert_records(batch)
    before = changes(graph)
    graph.upsert_records(batch)
    graph.upsert_records([rec("A", 0.5, T0 - 1, "W")])  # older than stored: nothing to write either
    assert changes(graph) == before
    graph.upsert_records([rec("B", 1, T0), rec("D", 7.0, T0, asset=SERVER)])  # equal to the stored values, not the same
    assert changes(graph) == before + 2
    latest = graph.latest()
    assert type(latest[f"{CRAC}.Telemetry.B"].value) is int and type(latest[f"{SERVER}.Telemetry.D"].value) is float
    fresh = SqliteGraphStore(database=graph.db)  # another writer knows nothing: its replay changes no row either
    fresh.upsert_records(batch[:1])
    assert values(fresh)["A"] == (1.0, T0, "W")


def test_a_replay_after_another_store_removed_the_assets_brings_them_back(tmp_path, full_model):
    path = str(tmp_path / "g.db")
    writer, syncer = SqliteGraphStore(path), SqliteGraphStore(path)
    batch = [rec("FlowRate", 5.0, T0, "L/hr", asset=SERVER), rec("ActivePower", 9.0, T0, "W")]
    writer.upsert_records(batch)
    removed = syncer.bootstrap(full_model, replace(instantiate(full_model, seed=3), assets=[])).removed
    assert f"asset {SERVER}" in removed and f"asset {CRAC}" in removed
    assert syncer.latest() == {}
    writer.upsert_records(batch)  # the same samples again: the writer must not trust what it wrote before the sync
    assert set(values(syncer)) == {"FlowRate", "ActivePower"}
    result = syncer.query_qpath({"DataHall": {"Rack": {"Server": {"FlowRate": None}}}})
    assert result["DataHall"]["data_hall_0"]["Rack"]["rack_0"]["Server"]["server_0"]["Telemetry"]["FlowRate"] == {
        "value": 5.0,
        "timestamp": T0,
        "unit": "L/hr",
    }
    writer.close()
    syncer.close()


def test_bad_records_are_refused_by_name_and_write_nothing():
    graph = SqliteGraphStore()
    good = rec("A", 1.0, T0)
    cases = [
        ("not a mapping", "not a mapping of data-point keys"),
        ({"asset_path": CRAC, "type": "Telemetry", "value": 1}, "missing key 'field'"),
        ({"asset_path": CRAC, "type": "Telemetry", "field": ["x"], "value": 1}, "invalid data-point name"),
        ({**good, "timestamp": "yesterday"}, r"crac_0.Telemetry.A: .*yesterday"),
        ({**good, "unit": 5}, r"crac_0.Telemetry.A: unit 5 is not text"),
        ({**good, "asset_path": ""}, "needs an asset path"),
    ]
    for bad, message in cases:
        with pytest.raises(SnapshotError, match=message):
            graph.upsert_records([good, bad])
    assert graph.latest() == {}
    graph.upsert_records([good])
    assert values(graph) == {"A": (1.0, T0, None)}


# the graph_points table of the earlier layout, as files written before graph_dps/graph_values hold it
_WIDE_LAYOUT = """
CREATE TABLE graph_assets (path TEXT PRIMARY KEY, collection TEXT NOT NULL, name TEXT NOT NULL,
    type_path TEXT NOT NULL, parent TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE graph_points (dp_path TEXT PRIMARY KEY, asset_path TEXT NOT NULL, category TEXT NOT NULL,
    name TEXT NOT NULL, type_path TEXT NOT NULL, value, kind TEXT, unit TEXT, ts REAL) WITHOUT ROWID;
CREATE INDEX graph_points_asset ON graph_points (asset_path);
CREATE INDEX graph_points_type_path ON graph_points (type_path);
CREATE VIEW has_data_point AS SELECT asset_path AS _from, dp_path AS _to, name AS next_category FROM graph_points;
INSERT INTO graph_assets VALUES ('DataHall.data_hall_0', 'DataHall', 'data_hall_0', 'DataHall', ''),
    ('DataHall.data_hall_0.CRAC.crac_0', 'CRAC', 'crac_0', 'DataHall.CRAC', 'DataHall.data_hall_0');
INSERT INTO graph_points VALUES
    ('DataHall.data_hall_0.CRAC.crac_0.Telemetry.FanSpeed', 'DataHall.data_hall_0.CRAC.crac_0', 'Telemetry',
     'FanSpeed', 'DataHall.CRAC.FanSpeed', 55.5, NULL, '%', 1800000000.0),
    ('DataHall.data_hall_0.CRAC.crac_0.Attribute.Eco', 'DataHall.data_hall_0.CRAC.crac_0', 'Attribute',
     'Eco', 'DataHall.CRAC.Eco', 1, 'b', NULL, 1800000000.0);
"""


def test_a_file_of_the_wide_points_layout_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_WIDE_LAYOUT)
    graph = SqliteGraphStore(str(path))
    assert values(graph) == {"FanSpeed": (55.5, T0, "%"), "Eco": (True, T0, None)}
    graph.upsert_records([rec("FanSpeed", 60.0, T0 + 1, "%"), rec("FanSpeed", 1.0, T0 - 1, "%")])
    assert values(graph)["FanSpeed"] == (60.0, T0 + 1, "%")
    edges = graph.db.read("SELECT _from, _to FROM has_data_point ORDER BY _to")
    assert edges == [(CRAC, f"{CRAC}.Attribute.Eco"), (CRAC, f"{CRAC}.Telemetry.FanSpeed")]
    kinds = dict(graph.db.read("SELECT name, type FROM sqlite_master WHERE name LIKE 'graph_points%'"))
    assert kinds == {"graph_points": "view"}
    graph.close()
    again = SqliteGraphStore(str(path))  # the migrated file opens as it is
    assert values(again)["FanSpeed"] == (60.0, T0 + 1, "%")
    again.close()

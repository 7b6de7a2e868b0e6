"""The sqlite telemetry write path: multi-row statements, odd values in a batch, bad timestamps, layout migration."""

from __future__ import annotations

import math
import random
import sqlite3

import orjson
import pytest
from sqlite_records import CRAC, T0, rec

from tiro.stores.sqlite.rows import MultiRowInsert
from tiro.stores.sqlite.schema import StoreLayoutError
from tiro.stores.sqlite.telemetry import SqliteTelemetryStore
from tiro_models.errors import SnapshotError


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 8, 9, 255, 256, 257, 600])
def test_multi_row_insert_writes_every_row_in_order(count):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a, b)")
    conn.execute("CREATE TABLE log (k INTEGER PRIMARY KEY, v)")  # a replayed key keeps the value written last
    insert = MultiRowInsert("INSERT INTO t (seq, a, b)", width=3, max_rows=8)
    values = [v for i in range(count) for v in (i, f"a{i}", i * 0.5)]
    assert insert.execute(conn.cursor(), values) == count
    assert conn.execute("SELECT seq, a, b FROM t ORDER BY seq").fetchall() == [
        (i, f"a{i}", i * 0.5) for i in range(count)
    ]
    replace = MultiRowInsert("INSERT OR REPLACE INTO log (k, v)", width=2, max_rows=4)
    replace.execute(conn.cursor(), [v for i in range(count) for v in (i % 5, i)])
    assert dict(conn.execute("SELECT k, v FROM log")) == {
        k: max(i for i in range(count) if i % 5 == k) for k in range(min(count, 5))
    }


def test_multi_row_insert_refuses_ragged_values_and_odd_sizes():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(ValueError, match="do not make rows of 3"):
        MultiRowInsert("INSERT INTO t (a, b, c)", width=3).execute(conn.cursor(), [1, 2])
    with pytest.raises(ValueError, match="power of two"):
        MultiRowInsert("INSERT INTO t (a)", width=1, max_rows=100)
    with pytest.raises(ValueError, match="does not have 2 placeholders"):
        MultiRowInsert("INSERT INTO t (a, b)", width=2, row="(?, ?, ?)")


def test_a_row_template_computes_columns_from_what_is_bound():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (a, ns INTEGER)")
    insert = MultiRowInsert("INSERT INTO t (a, ns)", width=2, max_rows=4, row="(?, CAST(? * 1e9 AS INTEGER))")
    seconds = [T0 + i / 7 for i in range(11)]
    insert.execute(conn.cursor(), [v for i, ts in enumerate(seconds) for v in (i, ts)])
    assert conn.execute("SELECT a, ns FROM t ORDER BY a").fetchall() == [
        (i, int(ts * 1e9)) for i, ts in enumerate(seconds)
    ]


def test_a_batch_with_odd_values_keeps_the_order_of_its_replays():
    store = SqliteTelemetryStore()
    # one (series, timestamp) three times: the value written last wins, whatever its kind
    store.write_records([rec("A", 1.0, T0), rec("A", True, T0), rec("A", {"x": 1}, T0), rec("B", 2**70, T0)])
    store.write_records([rec("C", {"x": 1}, T0), rec("C", 3.5, T0)])
    latest = {p.rsplit(".", 1)[1]: s.value for p, s in store.latest().items()}
    assert latest == {"A": {"x": 1}, "B": 2**70, "C": 3.5}
    assert type(latest["C"]) is float


def test_floats_and_timestamps_survive_exactly():
    random.seed(5)
    values = [random.uniform(-1e6, 1e6) for _ in range(500)] + [1e-300, 5e-324, -0.0, 1.7976931348623157e308]
    store = SqliteTelemetryStore()
    records = [rec(f"P{i}", v, T0 + random.random() * 1e5) for i, v in enumerate(values)]
    assert store.write_records(orjson.loads(orjson.dumps(records))) == len(records)
    latest = store.latest()
    for record in records:
        sample = latest[f"{CRAC}.Telemetry.{record['field']}"]
        assert sample.value == record["value"] and math.copysign(1, sample.value) == math.copysign(1, record["value"])
        assert round(sample.timestamp * 1e9) == int(record["timestamp"] * 1e9)


@pytest.mark.parametrize("timestamp", [float("inf"), float("nan"), -float("inf"), 1e11, 10**12, True, "yesterday", [1]])
@pytest.mark.parametrize("known", [False, True], ids=["new-series", "known-series"])
def test_a_timestamp_the_store_cannot_key_is_refused_by_path_and_writes_nothing(timestamp, known):
    store = SqliteTelemetryStore()
    if known:
        store.write_records([rec("Good", 0.0, T0 - 1), rec("Bad", 0.0, T0 - 1)])
    before = store.latest()
    for bad in ([rec("Good", 1.0, T0), rec("Bad", 1.0, timestamp)], [rec("Bad", 1.0, timestamp), rec("Good", 1.0, T0)]):
        with pytest.raises(SnapshotError, match=r"crac_0\.Telemetry\.Bad: .*timestamp"):
            store.write_records(bad)
    assert store.latest() == before


def test_records_that_are_not_mappings_or_have_unhashable_parts_are_refused_by_name():
    store = SqliteTelemetryStore()
    with pytest.raises(SnapshotError, match="not a mapping"):
        store.write_records([["not", "a", "record"]])
    with pytest.raises(SnapshotError, match="not a data-point record"):
        store.write_records([{"asset_path": {"a": 1}, "type": "Telemetry", "field": "X", "value": 1, "timestamp": T0}])
    with pytest.raises(SnapshotError, match="unit 5 is not text"):
        store.write_records([rec("X", 1.0, T0, unit=5)])


def test_the_latest_timestamp_only_moves_forward_within_and_across_batches():
    store = SqliteTelemetryStore()
    store.write_records([rec("A", 2.0, T0 + 2), rec("A", 3.0, T0 + 3), rec("A", 1.0, T0 + 1)])
    store.write_records([rec("A", 0.5, T0)])  # a late, older sample does not become the latest
    assert store.latest()[f"{CRAC}.Telemetry.A"].value == 3.0
    assert [v for _, v in store.history("%%", since=0)[f"{CRAC}.Telemetry.A"]] == [0.5, 1.0, 2.0, 3.0]


def test_a_batch_creating_series_and_changing_units_keeps_every_sample_and_the_last_unit(tmp_path):
    path = tmp_path / "t.db"
    store = SqliteTelemetryStore(str(path))
    store.bootstrap()
    store.write_records([rec("Known", 1.0, T0, unit="W")])
    names = [f"P{i}" for i in range(700)]  # more new series than one multi-row statement takes
    batch = [rec(name, float(i), T0 + 1, unit="W") for i, name in enumerate(names)]
    batch += [rec("Known", 2.0, T0 + 2, unit="kW"), rec("P0", 9.0, T0 + 3, unit="V"), rec("P0", 8.0, T0 + 2, unit="A")]
    assert store.write_records(batch) == len(batch)
    store.close()
    reopened = SqliteTelemetryStore(str(path))  # ids and units as stored, not as cached
    latest = reopened.latest()
    assert latest[f"{CRAC}.Telemetry.P0"].value == 9.0 and latest[f"{CRAC}.Telemetry.P0"].unit == "A"
    assert latest[f"{CRAC}.Telemetry.Known"].value == 2.0 and latest[f"{CRAC}.Telemetry.Known"].unit == "kW"
    assert all(latest[f"{CRAC}.Telemetry.{name}"].value == float(i) for i, name in enumerate(names) if i)
    history = reopened.history("%%", since=0)
    assert [v for _, v in history[f"{CRAC}.Telemetry.P0"]] == [0.0, 8.0, 9.0]
    assert sum(map(len, history.values())) == len(batch) + 1
    reopened.close()


# the one-table layout of the earlier store (facts of the format: its columns and keys)
_WIDE_LAYOUT = """
CREATE TABLE telemetry_series (id INTEGER PRIMARY KEY, dp_path TEXT NOT NULL UNIQUE, type_path TEXT NOT NULL,
    asset_path TEXT NOT NULL, category TEXT NOT NULL, name TEXT NOT NULL, unit TEXT, last_ns INTEGER);
CREATE INDEX telemetry_series_type_path ON telemetry_series (type_path);
CREATE TABLE telemetry_samples (series INTEGER NOT NULL, ts_ns INTEGER NOT NULL, value, kind TEXT,
    PRIMARY KEY (ts_ns, series)) WITHOUT ROWID;
INSERT INTO telemetry_series VALUES (1, 'DataHall.data_hall_0.CRAC.crac_0.Telemetry.A', 'DataHall.CRAC.A',
    'DataHall.data_hall_0.CRAC.crac_0', 'Telemetry', 'A', 'W', 1800000001000000000);
INSERT INTO telemetry_samples VALUES (1, 1800000000000000000, 1.5, NULL), (1, 1800000001000000000, 2.5, NULL);
"""


def test_a_file_of_the_earlier_layout_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_WIDE_LAYOUT)
    store = SqliteTelemetryStore(str(path))
    report = store.bootstrap()
    assert report.changed == ["table telemetry_series split into telemetry_paths and telemetry_latest"]
    assert report.created == []
    assert store.latest()[f"{CRAC}.Telemetry.A"].value == 2.5
    store.write_records([rec("A", 3.5, T0 + 2, "W"), rec("B", 1.0, T0)])
    assert [v for _, v in store.history("%%CRAC%A", since=0)[f"{CRAC}.Telemetry.A"]] == [1.5, 2.5, 3.5]
    assert store.bootstrap().changed == []  # migrated once
    store.close()
    with sqlite3.connect(path) as conn:  # readers of the one-table layout still find paths and last_ns
        rows = conn.execute("SELECT dp_path, last_ns FROM telemetry_series ORDER BY id").fetchall()
    assert rows == [
        (f"{CRAC}.Telemetry.A", 1_800_000_002_000_000_000),
        (f"{CRAC}.Telemetry.B", 1_800_000_000_000_000_000),
    ]


def test_a_telemetry_series_table_of_another_shape_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "foreign.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE telemetry_series (id INTEGER PRIMARY KEY, name TEXT)")
    store = SqliteTelemetryStore(str(path))
    with pytest.raises(StoreLayoutError, match=r"foreign\.db: table telemetry_series has columns id, name"):
        store.bootstrap()
    store.close()
    with sqlite3.connect(path) as conn:  # left as it was
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [("telemetry_series",)]


@pytest.mark.parametrize("samples", [3, 200])
def test_latest_and_history_read_by_key_lookups_and_range_scans(samples):
    store = SqliteTelemetryStore()
    store.write_records([rec(f"P{i % 40}", float(i), T0 + i) for i in range(samples)])
    statements: list[str] = []
    store.db.writer.set_trace_callback(statements.append)
    store.latest()
    store.latest("%%CRAC%P1")
    store.history("%%CRAC%P1", since=T0, until=T0 + 10)
    store.db.writer.set_trace_callback(None)
    plans = {
        sql: " | ".join(row[3] for row in store.db.writer.execute(f"EXPLAIN QUERY PLAN {sql}"))
        for sql in statements
        if "telemetry_samples" in sql
    }
    assert len(plans) == 3
    for sql, plan in plans.items():
        if "telemetry_latest" in sql:  # latest: one primary-key lookup per series, never a scan of the samples
            assert "SEARCH v USING PRIMARY KEY (ts_ns=? AND series=?)" in plan and "SCAN v" not in plan, plan
        else:  # history: a range of the time-major key
            assert "SEARCH v USING PRIMARY KEY (ts_ns>? AND ts_ns<?)" in plan, plan


def test_bootstrapping_a_current_file_takes_no_write_lock(tmp_path):
    path = tmp_path / "t.db"
    first = SqliteTelemetryStore(str(path))
    assert first.bootstrap().created == ["table telemetry_paths", "table telemetry_latest", "table telemetry_samples"]
    first.write_records([rec("A", 1.0, T0)])
    first.close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        store = SqliteTelemetryStore(str(path))
        assert store.bootstrap().to_dict()["created"] == []  # would wait on the lock if it wrote anything
        assert store.latest()[f"{CRAC}.Telemetry.A"].value == 1.0
        store.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def _stored(store: SqliteTelemetryStore) -> tuple[list, list, list]:
    read = store.db.read
    return (
        read("SELECT series, ts_ns, value, typeof(value), kind FROM telemetry_samples ORDER BY ts_ns, series"),
        read("SELECT series, ts_ns FROM telemetry_latest ORDER BY series"),
        read("SELECT id, dp_path, unit FROM telemetry_paths ORDER BY id"),
    )


@pytest.mark.parametrize("seed", range(6))
def test_the_usual_batch_stores_exactly_what_the_record_loop_stores(seed):
    """Lists of known series with float timestamps take the comprehension path; a tuple of the same records takes the
    record-by-record loop. Both must leave identical rows: nanoseconds, values, types, latest timestamps, units."""
    rng = random.Random(seed)
    names = [f"P{i}" for i in range(40)]
    fast, loop = SqliteTelemetryStore(), SqliteTelemetryStore()
    units = {name: "W" for name in names}
    plain_batches = 0
    for round_ in range(12):
        batch = []
        for _ in range(rng.randrange(1, 120)):
            value = rng.choice([rng.uniform(-1e9, 1e9), "text", None, rng.random()])
            if round_ > 2 and rng.random() < 0.02:  # now and then a batch the comprehensions must hand to the loop
                value = rng.choice([7, True, {"x": 1}])
            ts = T0 + rng.uniform(-1e4, 1e4) if seed % 2 else T0 + round_ + rng.random()
            if seed == 5:  # the whole range the comprehensions take, fractions of a second and negatives included
                ts = rng.choice([rng.uniform(-9e9, 9e9), rng.uniform(-2, 2)])
            name = rng.choice(names)
            if rng.random() < 0.01:  # a unit changes (or goes) now and then
                units[name] = rng.choice(["W", "kW", None])
            batch.append(rec(name, value, ts, unit=units[name]))
        if seed % 2 == 0:
            batch.sort(key=lambda r: r["timestamp"])
        plain_batches += fast._plain_rows(batch) is not None
        assert fast.write_records(orjson.loads(orjson.dumps(batch))) == len(batch)
        assert loop.write_records(tuple(orjson.loads(orjson.dumps(batch)))) == len(batch)
        assert _stored(fast) == _stored(loop)
    assert fast.latest() == loop.latest()
    assert plain_batches > 0  # the comprehension path was taken at all


def test_a_unit_that_changes_back_is_stored_back():
    store = SqliteTelemetryStore()
    for i, unit in enumerate(["W", "W", "kW", "kW", "W", None, "W"]):
        store.write_records([rec("A", float(i), T0 + i, unit=unit)])
        assert store.latest()[f"{CRAC}.Telemetry.A"].unit == unit


def test_sample_columns_find_series_by_model_ids_once_learned_and_forget_them_when_a_unit_changes():
    store = SqliteTelemetryStore()
    store.write_records([rec("A", 1.0, T0, unit="W"), rec("B", 1.0, T0, unit="W")])
    paths, units = [f"{CRAC}.Telemetry.A", f"{CRAC}.Telemetry.B"], ["W", "W"]
    by_path = store.write_sample_columns(paths, [T0 + 1, T0 + 1], [2.0, 2.0], units)
    assert store.write_sample_columns(paths, [T0 + 2] * 2, [3.0, 3.0], units, ("m1", [7, 8])) == by_path
    assert store._sids_of_model(("m1", [8, 7])) == by_path[::-1]  # learned from the paths
    assert store._sids_of_model(("m1", [9])) is None and store._sids_of_model(("m2", [7])) is None
    store.write_records([rec("A", 4.0, T0 + 3, unit="kW")])  # A's unit changes: ids of every model are forgotten
    assert store._sids_of_model(("m1", [7])) is None
    # a frame of the old model still names A in W: its samples go by path, which writes A back in W
    assert store.write_sample_columns(paths[:1], [T0 + 4], [5.0], ["W"], ("m1", [7])) is None
    assert [v for _, v in store.history("%%", since=0)[paths[0]]] == [1.0, 2.0, 3.0, 4.0]


def test_the_latest_sample_is_the_newest_whatever_the_order_in_a_batch():
    store = SqliteTelemetryStore()
    store.write_records([rec(name, 0.0, T0 - 1) for name in "ABCD"])  # known series: the batches take the fast path
    # distinct series in any order, then one series three times out of time order
    store.write_records([rec("A", 1.0, T0 + 2), rec("B", 2.0, T0), rec("C", 3.0, T0 + 1)])
    store.write_records([rec("D", 4.0, T0 + 5), rec("D", 5.0, T0 + 9), rec("D", 6.0, T0 + 7)])
    latest = {p.rsplit(".", 1)[1]: (s.value, s.timestamp) for p, s in store.latest().items()}
    assert latest == {"A": (1.0, T0 + 2), "B": (2.0, T0), "C": (3.0, T0 + 1), "D": (5.0, T0 + 9)}

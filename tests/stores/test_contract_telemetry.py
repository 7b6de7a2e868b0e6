"""TelemetryStore contract: every backend stores records exactly, idempotently, and reads them back by pattern/time."""

from __future__ import annotations

import pytest

from tiro_models.line_protocol import encode_many
from tiro_models.records import decompose_point

T0 = 1_800_000_000.0  # a fixed epoch second, so bucket boundaries are known
CRAC = "DataHall.data_hall_0.CRAC.crac_0"
RACK0 = "DataHall.data_hall_0.Rack.rack_0"
SERVER = f"{RACK0}.Server.server_1"


def rec(asset_path: str, category: str, name: str, value, ts: float, unit: str | None = None) -> dict:
    """A record exactly as tiro_preprocess emits it."""
    dp = {"value": value, "timestamp": ts}
    if unit is not None:
        dp["unit"] = unit
    return decompose_point(f"{asset_path}.{category}.{name}", dp)


def mixed_records(ts: float = T0) -> list[dict]:
    return [
        rec(CRAC, "Telemetry", "ActivePower", 134.36, ts, "W"),
        rec(CRAC, "Telemetry", "FanSpeed", 42, ts, "%"),
        rec(CRAC, "Attribute", "Mode", 'cooling mode, "quoted"', ts),
        rec(CRAC, "Telemetry", "Running", True, ts),
        rec(CRAC, "Telemetry", "Alarm", False, ts),
        rec(RACK0, "Telemetry", "ActivePower", -0.5, ts, "W"),
        rec(SERVER, "Telemetry", "FlowRate", 1e-7, ts, "L/hr"),
    ]


def test_write_then_latest_reads_back_exact_values_types_and_units(telemetry_store):
    records = mixed_records()
    assert telemetry_store.write_records(records) == len(records)
    latest = telemetry_store.latest()
    assert set(latest) == {f"{r['asset_path']}.{r['type']}.{r['field']}" for r in records}
    for r in records:
        sample = latest[f"{r['asset_path']}.{r['type']}.{r['field']}"]
        assert sample.value == r["value"] and type(sample.value) is type(r["value"])
        assert sample.unit == r.get("unit")
        assert sample.timestamp == pytest.approx(T0, abs=1e-6)


def test_latest_is_the_newest_sample_per_series(telemetry_store):
    telemetry_store.write_records([rec(CRAC, "Telemetry", "ActivePower", float(i), T0 + i, "W") for i in (3, 1, 2)])
    sample = telemetry_store.latest()[f"{CRAC}.Telemetry.ActivePower"]
    assert (sample.value, sample.timestamp) == (3.0, pytest.approx(T0 + 3))


def test_replaying_records_stores_them_once(telemetry_store):
    records = [rec(CRAC, "Telemetry", "ActivePower", float(i), T0 + i, "W") for i in range(10)]
    telemetry_store.write_records(records)
    telemetry_store.write_records(records)
    telemetry_store.write_records(records[3:5])
    history = telemetry_store.history("%%CRAC%ActivePower", since=T0, until=T0 + 100)
    assert [v for _, v in history[f"{CRAC}.Telemetry.ActivePower"]] == [float(i) for i in range(10)]


def test_a_replayed_timestamp_with_a_new_value_replaces_the_old_one(telemetry_store):
    telemetry_store.write_records([rec(CRAC, "Telemetry", "ActivePower", 1.0, T0, "W")])
    telemetry_store.write_records([rec(CRAC, "Telemetry", "ActivePower", 2.0, T0, "W")])
    assert telemetry_store.history("%%", since=T0 - 1)[f"{CRAC}.Telemetry.ActivePower"] == [(pytest.approx(T0), 2.0)]


def test_write_lines_stores_the_same_data_as_write_records(telemetry_store, telemetry_factory):
    records = mixed_records()
    lines = encode_many(records, measurement="tiro_telemetry", field_name="field", field_value="value")
    assert telemetry_store.write_lines(lines.splitlines()) == len(records)
    other = telemetry_factory()
    other.write_records(records)
    assert telemetry_store.latest() == other.latest()
    for path, sample in telemetry_store.latest().items():
        assert type(sample.value) is type(other.latest()[path].value)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("%%CRAC%%", {"ActivePower", "FanSpeed", "Mode", "Running", "Alarm"}),
        ("%%ActivePower", {"ActivePower"}),
        ("DataHall%Rack%ActivePower", {"ActivePower"}),
        ("%%Server%FlowRate", {"FlowRate"}),
        ("DataHall%CRAC%Active", set()),  # fullmatch: a prefix is not enough
        ("Rack%ActivePower", set()),  # anchored at the start too
        ("'; DROP TABLE telemetry_samples; --", set()),  # patterns are data, never SQL
    ],
)
def test_latest_filters_by_percent_pattern_on_type_paths(telemetry_store, pattern, expected):
    telemetry_store.write_records(mixed_records())
    latest = telemetry_store.latest(pattern)
    assert {path.rsplit(".", 1)[1] for path in latest} == expected
    if pattern == "DataHall%Rack%ActivePower":
        assert set(latest) == {f"{RACK0}.Telemetry.ActivePower"}
    assert len(telemetry_store.latest()) == len(mixed_records())  # still all there


def test_history_without_step_returns_raw_samples_in_the_half_open_range(telemetry_store):
    telemetry_store.write_records([rec(SERVER, "Telemetry", "FlowRate", float(i), T0 + i, "L/hr") for i in range(10)])
    history = telemetry_store.history("%%FlowRate", since=T0 + 2, until=T0 + 5)
    assert history == {f"{SERVER}.Telemetry.FlowRate": [(pytest.approx(T0 + i), float(i)) for i in (2, 3, 4)]}
    open_ended = telemetry_store.history("%%FlowRate", since=T0 + 8)
    assert [v for _, v in open_ended[f"{SERVER}.Telemetry.FlowRate"]] == [8.0, 9.0]
    assert telemetry_store.history("%%Nothing", since=T0) == {}


@pytest.mark.parametrize(
    ("agg", "expected"),
    [
        ("mean", [2.0, 7.0, 10.5]),
        ("sum", [10.0, 35.0, 21.0]),
        ("min", [0.0, 5.0, 10.0]),
        ("max", [4.0, 9.0, 11.0]),
        ("last", [4.0, 9.0, 11.0]),
    ],
)
def test_history_aggregates_into_epoch_aligned_step_buckets(telemetry_store, agg, expected):
    # samples at T0+0..T0+11 with value i, written out of order; buckets of 5 s start at T0, T0+5, T0+10
    order = [7, 0, 11, 3, 5, 1, 9, 2, 10, 4, 8, 6]
    telemetry_store.write_records([rec(SERVER, "Telemetry", "FlowRate", float(i), T0 + i, "L/hr") for i in order])
    history = telemetry_store.history("%%FlowRate", since=T0, until=T0 + 12, step=5, agg=agg)
    points = history[f"{SERVER}.Telemetry.FlowRate"]
    assert [ts for ts, _ in points] == [pytest.approx(T0), pytest.approx(T0 + 5), pytest.approx(T0 + 10)]
    assert [v for _, v in points] == [pytest.approx(x) for x in expected]


def test_last_is_the_newest_value_of_each_bucket_not_the_largest(telemetry_store):
    values = {0: 9.0, 1: 1.0, 2: 5.0}
    telemetry_store.write_records([rec(CRAC, "Telemetry", "ActivePower", v, T0 + i, "W") for i, v in values.items()])
    points = telemetry_store.history("%%CRAC%ActivePower", since=T0, until=T0 + 10, step=10, agg="last")
    assert [v for _, v in points[f"{CRAC}.Telemetry.ActivePower"]] == [5.0]


def test_history_separates_series_of_one_type_path(telemetry_store):
    servers = [f"{RACK0}.Server.server_{i}" for i in range(3)]
    telemetry_store.write_records(
        [
            rec(s, "Telemetry", "FlowRate", float(10 * n + i), T0 + i, "L/hr")
            for n, s in enumerate(servers)
            for i in range(4)
        ]
    )
    history = telemetry_store.history("%%Server%FlowRate", since=T0, step=60, agg="mean")
    assert {p: [v for _, v in pts] for p, pts in history.items()} == {
        f"{s}.Telemetry.FlowRate": [pytest.approx(10 * n + 1.5)] for n, s in enumerate(servers)
    }


def test_history_rejects_an_unknown_aggregation(telemetry_store):
    with pytest.raises(ValueError, match="median"):
        telemetry_store.history("%%", since=T0, step=60, agg="median")


def test_bootstrap_is_idempotent_and_keeps_data(telemetry_store):
    telemetry_store.write_records(mixed_records())
    report = telemetry_store.bootstrap()
    assert report.created == [] and report.removed == []
    assert len(telemetry_store.latest()) == len(mixed_records())

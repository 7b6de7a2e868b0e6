"""GraphStore contract: bootstrap and topology sync, upserts, latest by pattern, qpath filters, attributes/missing."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tiro_models.errors import InputError
from tiro_models.instances import instantiate
from tiro_models.records import decompose_point

HALL = "DataHall.data_hall_0"
CRAC = f"{HALL}.CRAC.crac_0"
RACK0 = f"{HALL}.Rack.rack_0"
RACK1 = f"{HALL}.Rack.rack_1"
SERVERS = [f"{RACK0}.Server.server_{i}" for i in range(3)] + [f"{RACK1}.Server.server_{i}" for i in range(3, 6)]
FLOW = dict(zip(SERVERS, [120.0, 399.99, 400.0, 650.5, 15, 900.0], strict=True))


def rec(asset_path: str, category: str, name: str, value, ts: float, unit: str | None = None) -> dict:
    dp = {"value": value, "timestamp": ts}
    if unit is not None:
        dp["unit"] = unit
    return decompose_point(f"{asset_path}.{category}.{name}", dp)


def fleet(now: float) -> list[dict]:
    """One sample for every point of the instances of the full model (seed 3), plus known FlowRates."""
    records = [
        rec(HALL, "Attribute", "Site", "Singapore West", now),
        rec(HALL, "Telemetry", "Temperature", 24.5, now, "°C"),
        rec(CRAC, "Telemetry", "ActivePower", 800.0, now, "W"),
        rec(CRAC, "Attribute", "Mode", "cooling", now),
        rec(CRAC, "Telemetry", "FanSpeed", 55.5, now, "%"),
        rec(RACK0, "Telemetry", "ActivePower", 300.0, now, "W"),
        rec(RACK1, "Telemetry", "ActivePower", 310.0, now, "W"),
    ]
    for i, server in enumerate(SERVERS):
        records.append(rec(server, "Telemetry", "FlowRate", FLOW[server], now, "L/hr"))
        records.append(rec(server, "Attribute", "ModelName", f"Model {i % 2}", now))
    return records


@pytest.fixture
def loaded(graph_store, full_model):
    """The graph store bootstrapped with the full model and its instances, holding one sample per point."""
    graph_store.bootstrap(full_model, instantiate(full_model, seed=3))
    graph_store.upsert_records(fleet(time.time()))
    return graph_store


def test_bootstrap_creates_then_is_idempotent(graph_store, full_model):
    instances = instantiate(full_model, seed=3)
    first = graph_store.bootstrap(full_model, instances)
    assert first.created and first.removed == []
    again = graph_store.bootstrap(full_model, instances)
    assert again.created == [] and again.removed == []
    assert first.to_dict()["store"] == again.store


def test_upsert_then_latest_reads_back_every_point_exactly(loaded):
    records = fleet(0)
    latest = loaded.latest()
    for r in records:
        sample = latest[f"{r['asset_path']}.{r['type']}.{r['field']}"]
        assert sample.value == r["value"] and type(sample.value) is type(r["value"])
        assert sample.unit == r.get("unit")
    assert len(latest) == len(records)  # the Site default was replaced, not duplicated


def test_replays_are_harmless_and_older_samples_never_overwrite_newer(loaded):
    path = f"{CRAC}.Telemetry.ActivePower"
    now = time.time()
    loaded.upsert_records([rec(CRAC, "Telemetry", "ActivePower", 900.0, now + 10, "W")])
    loaded.upsert_records([rec(CRAC, "Telemetry", "ActivePower", 100.0, now - 10, "W")])  # late, older
    loaded.upsert_records([rec(CRAC, "Telemetry", "ActivePower", 900.0, now + 10, "W")] * 3)  # replay
    sample = loaded.latest("%%CRAC%ActivePower")[path]
    assert sample.value == 900.0 and sample.timestamp == pytest.approx(now + 10)
    assert len(loaded.latest()) == len(fleet(0))


def test_latest_by_pattern_and_freshness(loaded):
    assert set(loaded.latest("%%Server%FlowRate")) == {f"{s}.Telemetry.FlowRate" for s in SERVERS}
    assert set(loaded.latest("DataHall%Rack%ActivePower")) == {
        f"{RACK0}.Telemetry.ActivePower",
        f"{RACK1}.Telemetry.ActivePower",
    }
    assert loaded.latest("DataHall%Rack%Active") == {}
    assert loaded.latest("x' OR 1=1 --") == {}
    with pytest.raises(InputError, match="invalid %-pattern"):
        loaded.latest("x') OR (1=1")
    stale = time.time() - 3600
    loaded.upsert_records([rec(CRAC, "Telemetry", "FanSpeed", 60.0, stale + 1e6, "%")])  # far future stays fresh
    loaded.upsert_records([rec(f"{HALL}.CRAC.crac_9", "Telemetry", "FanSpeed", 1.0, stale, "%")])
    loaded.upsert_records([rec(f"{HALL}.CRAC.crac_9", "Attribute", "Mode", "standby", stale)])
    fresh = loaded.latest("%%CRAC%%", max_age=60)
    assert f"{HALL}.CRAC.crac_9.Telemetry.FanSpeed" not in fresh  # stale telemetry is left out
    assert fresh[f"{HALL}.CRAC.crac_9.Attribute.Mode"].value == "standby"  # attributes never go stale
    assert f"{HALL}.CRAC.crac_9.Telemetry.FanSpeed" in loaded.latest("%%CRAC%%")


def test_topology_sync_removes_assets_of_vanished_slots(loaded, no_crac_model):
    report = loaded.bootstrap(no_crac_model)
    assert f"asset {CRAC}" in report.removed
    assert any("CRAC" in entry and "collection" in entry for entry in report.removed)
    assert loaded.latest("%%CRAC%%") == {}
    assert set(loaded.latest("%%Server%FlowRate")) == {f"{s}.Telemetry.FlowRate" for s in SERVERS}
    assert loaded.bootstrap(no_crac_model).removed == []


def test_topology_sync_with_instances_removes_assets_not_in_them(loaded, full_model):
    instances = instantiate(full_model, seed=3)
    keep = [a for a in instances.assets if not a.path.startswith(RACK1)]
    points = {p: s for p, s in instances.points.items() if not p.startswith(RACK1)}
    report = loaded.bootstrap(full_model, replace(instances, assets=keep, points=points))
    gone = {RACK1, *(s for s in SERVERS if s.startswith(RACK1))}
    assert set(report.removed) >= {f"asset {p}" for p in gone}
    assert not any(p.startswith(RACK1) for p in loaded.latest())
    assert loaded.query_qpath({"DataHall": {"Rack": {"ActivePower": None}}}) == {
        "DataHall": {
            "data_hall_0": {"Rack": {"rack_0": {"Telemetry": {"ActivePower": _dp(loaded, RACK0, "ActivePower")}}}}
        }
    }


def _dp(store, asset: str, name: str, category: str = "Telemetry") -> dict:
    sample = store.latest()[f"{asset}.{category}.{name}"]
    out = {"value": sample.value, "timestamp": pytest.approx(sample.timestamp)}
    if sample.unit is not None:
        out["unit"] = sample.unit
    return out


def _servers(result: dict) -> dict[str, float]:
    out = {}
    for rack in result.get("DataHall", {}).get("data_hall_0", {}).get("Rack", {}).values():
        for server_id, server in rack.get("Server", {}).items():
            out[server_id] = server.get("Telemetry", {}).get("FlowRate", {}).get("value")
    return out


def test_qpath_lt_means_less_than(loaded):
    result = loaded.query_qpath({"DataHall": {"Rack": {"Server": {"FlowRate": {"$lt": 400}}}}})
    expected = {s.rsplit(".", 1)[1]: v for s, v in FLOW.items() if v < 400}
    assert _servers(result) == expected
    assert set(expected) == {"server_0", "server_1", "server_4"}


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ({"$gt": 400}, {"server_3", "server_5"}),
        ({"$ge": 400}, {"server_2", "server_3", "server_5"}),
        ({"$le": 400}, {"server_0", "server_1", "server_2", "server_4"}),
        ({"$gt": 100, "$lt": 650.5}, {"server_0", "server_1", "server_2"}),
        ({"$match": r"^\d{3}\.0$"}, {"server_0", "server_2", "server_5"}),
        ({"$not_match": r"\.0$"}, {"server_1", "server_3", "server_4"}),
    ],
)
def test_qpath_value_filters(loaded, filters, kept):
    result = loaded.query_qpath({"DataHall": {"Rack": {"Server": {"FlowRate": filters}}}})
    assert set(_servers(result)) == kept


def test_qpath_name_match_auxiliary_points_and_subtree_pruning(loaded):
    qpath = {
        "DataHall": {
            "Rack": {"$name_match": "_1$", "Server": {"FlowRate": {"$lt": 700}}},
            "CRAC": {"ActivePower": None, "_FanSpeed": {"$gt": 50}},
        }
    }
    result = loaded.query_qpath(qpath)
    hall = result["DataHall"]["data_hall_0"]
    assert set(hall["Rack"]) == {"rack_1"}
    assert set(hall["Rack"]["rack_1"]["Server"]) == {"server_3", "server_4"}
    assert hall["CRAC"]["crac_0"] == {"Telemetry": {"ActivePower": _dp(loaded, CRAC, "ActivePower")}}  # no FanSpeed
    failing = loaded.query_qpath({"DataHall": {"CRAC": {"ActivePower": None, "_FanSpeed": {"$gt": 60}}}})
    assert failing == {}


def test_qpath_node_without_points_returns_all_points_and_injection_stays_data(loaded):
    result = loaded.query_qpath({"DataHall": {"CRAC": {"$name_match": "crac"}}})
    crac = result["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]
    assert set(crac["Telemetry"]) == {"ActivePower", "FanSpeed"} and crac["Attribute"]["Mode"]["value"] == "cooling"
    assert loaded.query_qpath({"DataHall": {"CRAC": {"Mode": {"$match": "' OR '1'='1"}}}}) == {}
    assert loaded.query_qpath({"DataHall": {"Rack": {"$name_match": '" OR 1==1 //'}}}) == {}


def test_qpath_max_age_leaves_out_stale_telemetry(loaded):
    old = time.time() - 3600
    loaded.upsert_records([rec(f"{RACK0}.Server.server_7", "Telemetry", "FlowRate", 10.0, old, "L/hr")])
    fresh = loaded.query_qpath({"DataHall": {"Rack": {"Server": {"FlowRate": {"$lt": 400}}}}}, max_age=60)
    assert "server_7" not in _servers(fresh)
    assert "server_7" in _servers(loaded.query_qpath({"DataHall": {"Rack": {"Server": {"FlowRate": {"$lt": 400}}}}}))


def test_attributes_and_missing(graph_store, full_model):
    instances = instantiate(full_model, seed=3)
    graph_store.bootstrap(full_model, instances)
    now = time.time()
    graph_store.upsert_records(
        [
            rec(CRAC, "Telemetry", "ActivePower", 800.0, now, "W"),
            rec(CRAC, "Telemetry", "FanSpeed", 50.0, now - 3600, "%"),  # stale
            rec(CRAC, "Attribute", "Mode", "standby", now - 86400),  # old, but attributes are static
        ]
    )
    result = graph_store.attributes_and_missing(full_model, max_age=300)
    assert set(result) == set(instances.points)
    assert result[f"{CRAC}.Telemetry.ActivePower"].value == 800.0
    assert result[f"{CRAC}.Telemetry.FanSpeed"] is None
    assert result[f"{CRAC}.Attribute.Mode"].value == "standby"
    assert result[f"{HALL}.Attribute.Site"].value == "Singapore"  # the model's default, stored at bootstrap
    assert result[f"{SERVERS[0]}.Telemetry.FlowRate"] is None

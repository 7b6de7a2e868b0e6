"""decompose / flatten / nest / to_compact: upstream record shape, every path depth, errors naming the path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiro_models.errors import SnapshotError
from tiro_models.records import RESERVED_KEYS, decompose, decompose_point, flatten, nest, to_compact

DATA = Path(__file__).parent / "data" / "records"
DP_PATH = "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ReturnTemperature"
RECORD = {
    "path": "DataHall.CRAC.ReturnTemperature",
    "asset_path": "DataHall.data_hall_0.CRAC.crac_0",
    "DataHall": "data_hall_0",
    "CRAC": "crac_0",
    "type": "Telemetry",
    "field": "ReturnTemperature",
    "value": 23.84,
    "timestamp": 1664251882.666721,
}


def load(name: str):
    return json.loads((DATA / name).read_text())


def test_single_data_point_record_is_upstream():
    # tiro-upstream §8 check 7 / §3.4
    records = list(decompose(DP_PATH, {"value": 23.84, "timestamp": 1664251882.666721}))
    assert records == [RECORD]
    assert list(records[0]) == list(RECORD)  # key order as upstream


def test_unit_only_when_present_and_extra_keys_merged():
    (record,) = decompose(DP_PATH, {"value": 1, "timestamp": "2022-09-26T23:45:50", "unit": "°C", "quality": 3})
    assert list(record)[-4:] == ["value", "timestamp", "unit", "quality"]
    assert record["unit"] == "°C" and record["quality"] == 3
    (record,) = decompose(DP_PATH, {"value": 1, "timestamp": "t"})
    assert "unit" not in record


def test_non_dict_data_point_gives_value_only():
    (record,) = decompose(DP_PATH, 42)
    assert record["value"] == 42
    assert "timestamp" not in record


def test_every_depth_of_the_snapshot_gives_the_same_records():
    snapshot = load("snapshot.json")
    everything = list(decompose("", snapshot))
    assert len(everything) == len(flatten(snapshot)) == 9
    hall = snapshot["DataHall"]["data_hall_0"]
    crac = hall["CRAC"]["crac_0"]
    assert list(decompose("DataHall.data_hall_0", hall)) == everything
    assert list(decompose("DataHall", snapshot["DataHall"])) == everything
    crac_records = [r for r in everything if r["asset_path"] == "DataHall.data_hall_0.CRAC.crac_0"]
    assert list(decompose("DataHall.data_hall_0.CRAC.crac_0", crac)) == crac_records
    assert list(decompose("DataHall.data_hall_0.CRAC", hall["CRAC"])) == crac_records
    telemetry = [r for r in crac_records if r["type"] == "Telemetry"]
    assert list(decompose("DataHall.data_hall_0.CRAC.crac_0.Telemetry", crac["Telemetry"])) == telemetry
    for record in everything:
        dp_path = f"{record['asset_path']}.{record['type']}.{record['field']}"
        assert list(decompose(dp_path, flatten(snapshot)[dp_path])) == [record]


def test_records_carry_every_asset_id():
    snapshot = load("snapshot.json")
    server = [r for r in decompose("", snapshot) if r["field"] == "FlowRate"][-1]
    assert server["path"] == "DataHall.Rack.Server.FlowRate"
    assert (server["DataHall"], server["Rack"], server["Server"]) == ("data_hall_0", "rack_1", "server_5")
    assert list(server)[:6] == ["path", "asset_path", "DataHall", "Rack", "Server", "type"]


@pytest.mark.parametrize("reserved", sorted(RESERVED_KEYS))
def test_asset_type_named_like_a_record_key_is_an_error(reserved):
    with pytest.raises(SnapshotError, match=f"asset type '{reserved}' collides"):
        list(decompose("", {"DataHall": {"h": {reserved: {"x": {"Telemetry": {"A": {"value": 1}}}}}}}))
    with pytest.raises(SnapshotError, match="collides"):
        list(decompose(f"{reserved}.x.Telemetry.A", {"value": 1}))


def test_data_point_key_that_would_overwrite_a_tag_is_an_error():
    with pytest.raises(
        SnapshotError, match=r"DataHall\.data_hall_0\.CRAC\.crac_0\.Telemetry\.ReturnTemperature.*'path'"
    ):
        list(decompose(DP_PATH, {"value": 1, "path": "elsewhere"}))


def test_repeated_type_along_a_path_keeps_the_deepest_id():
    (record,) = decompose("Zone.a.Zone.b.Telemetry.T", {"value": 1})
    assert record["Zone"] == "b"
    assert record["asset_path"] == "Zone.a.Zone.b"
    assert record["path"] == "Zone.Zone.T"


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("", [], "<root>"),
        ("", {"DataHall": []}, "DataHall"),
        ("", {"DataHall": {"h": 3}}, "DataHall.h"),
        ("", {"DataHall": {"h": {"Telemetry": [1]}}}, "DataHall.h.Telemetry"),
        ("DataHall.h", {"Rack": {"r.1": {}}}, "DataHall.h.Rack"),
        ("DataHall.h.Telemetry", 5, "DataHall.h.Telemetry"),
        ("DataHall..Telemetry.X", {}, "DataHall..Telemetry.X"),
        ("Telemetry", {}, "Telemetry"),
    ],
)
def test_bad_shapes_name_the_path(path, value, where):
    with pytest.raises(SnapshotError) as info:
        list(decompose(path, value))
    assert where in str(info.value)


def test_flatten_nest_and_compact_of_the_fixture():
    snapshot = load("snapshot.json")
    flat = flatten(snapshot)
    assert flat == load("snapshot-flat.json")
    assert nest(flat) == snapshot
    assert to_compact(snapshot) == load("snapshot-compact.json")


def test_nest_rejects_malformed_paths_and_compact_rejects_clashing_names():
    with pytest.raises(SnapshotError, match=re.escape("'DataHall.h.X'")):
        nest({"DataHall.h.X": {"value": 1}})
    clash = {"R": {"r": {"Telemetry": {"P": {"value": 1}}, "Attribute": {"P": {"value": 2}}}}}
    with pytest.raises(SnapshotError, match=r"R\.r\.Attribute\.P"):
        to_compact(clash)


segment = st.text(st.characters(blacklist_characters=".", blacklist_categories=("Cs",)), min_size=1, max_size=8)
type_name = segment.filter(lambda s: s not in RESERVED_KEYS and s not in ("Telemetry", "Attribute"))
dp_value = st.fixed_dictionaries(
    {"value": st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5)), "timestamp": st.text()}
)


def entities(depth: int):
    points = st.dictionaries(segment, dp_value, min_size=1, max_size=2)
    categories = st.fixed_dictionaries({"Telemetry": points}, optional={"Attribute": points})
    if depth == 0:
        return categories
    groups = st.dictionaries(
        type_name, st.dictionaries(segment, entities(depth - 1), min_size=1, max_size=2), max_size=2
    )
    return st.tuples(categories, groups).map(lambda t: {**t[0], **t[1]})


snapshots = st.dictionaries(type_name, st.dictionaries(segment, entities(2), min_size=1, max_size=2), max_size=2)


@given(snapshots)
def test_flatten_nest_decompose_round_trip(snapshot):
    flat = flatten(snapshot)
    assert nest(flat) == snapshot
    records = list(decompose("", snapshot))
    assert len(records) == len(flat)
    for record, (dp_path, dp) in zip(records, flat.items(), strict=True):
        assert f"{record['asset_path']}.{record['type']}.{record['field']}" == dp_path
        assert record["value"] == dp["value"] and record["timestamp"] == dp["timestamp"]
        assert list(decompose(dp_path, dp)) == [record]


def test_decompose_point_is_the_single_point_record_and_a_fresh_dict():
    first = decompose_point(DP_PATH, {"value": 23.84, "timestamp": 1664251882.666721})
    assert first == RECORD
    first["value"] = "changed"
    first["extra"] = 1
    assert decompose_point(DP_PATH, 5) == {**{k: v for k, v in RECORD.items() if k != "timestamp"}, "value": 5}
    with pytest.raises(SnapshotError, match=re.escape("'DataHall.data_hall_0.Other.X'")):
        decompose_point("DataHall.data_hall_0.Other.X", 1)
    with pytest.raises(SnapshotError, match="collides"):
        decompose_point("value.v.Telemetry.X", 1)


def test_points_under_a_known_parent_get_their_own_tags_and_checks():
    first = decompose_point("Hall.h.Rack.r1.Server.s1.Telemetry.T", 1)
    sibling = decompose_point("Hall.h.Rack.r1.Server.s2.Telemetry.T", 2)  # the rack's tags come from the first
    deeper = decompose_point("Hall.h.Rack.r1.Server.s2.Zone.Server.Telemetry.T", 3)
    assert (first["Server"], sibling["Server"], sibling["Rack"]) == ("s1", "s2", "r1")
    assert sibling["asset_path"] == "Hall.h.Rack.r1.Server.s2" and deeper["Zone"] == "Server"
    with pytest.raises(SnapshotError, match="'value' collides"):
        decompose_point("Hall.h.Rack.r1.value.v.Telemetry.T", 4)

"""Graph documents: path-qualified keys (fix of tiro-upstream §5.2), any-character key encoding, model collections."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiro_models.errors import SnapshotError
from tiro_models.graph_docs import (
    MAX_KEY_BYTES,
    collections_for_model,
    decode_key,
    documents_for_record,
    documents_for_records,
    edges_for_model,
    encode_key,
    is_hashed_key,
)
from tiro_models.records import decompose
from tiro_models.spec import Model, PointDef, PointSpec, SlotSpec

ARANGO_KEY = re.compile(r"[a-zA-Z0-9_\-:.@()+,=;$!*'%]+")
DP_PATH = "DataHall.data_hall_0.Rack.rack 1.Server.server_3.Telemetry.FlowRate"


def record_for(dp_path: str, dp=None) -> dict:
    (record,) = decompose(dp_path, dp if dp is not None else {"value": 378.61, "timestamp": 1664251882.5})
    return record


def test_check_9_structure_with_path_qualified_keys():
    # tiro-upstream §8 check 9, with keys qualified by asset path instead of `rack:$:1`, `server_3-FlowRate`
    docs = documents_for_record(record_for(DP_PATH))
    hall, rack, server = (
        "DataHall.data_hall_0",
        "DataHall.data_hall_0.Rack.rack%201",
        ("DataHall.data_hall_0.Rack.rack%201.Server.server_3"),
    )
    dp_key = f"{server}.Telemetry.FlowRate"
    assert docs.vertices == {
        "Scenario": [{"_key": "000", "name": "000", "path": ""}],
        "DataHall": [{"_key": hall, "name": "data_hall_0", "path": "DataHall", "asset_path": "DataHall.data_hall_0"}],
        "Rack": [
            {
                "_key": rack,
                "name": "rack 1",
                "path": "DataHall.Rack",
                "asset_path": "DataHall.data_hall_0.Rack.rack 1",
            }
        ],
        "Server": [
            {
                "_key": server,
                "name": "server_3",
                "path": "DataHall.Rack.Server",
                "asset_path": "DataHall.data_hall_0.Rack.rack 1.Server.server_3",
            }
        ],
        "Telemetry": [
            {
                "_key": dp_key,
                "type": "Telemetry",
                "name": "FlowRate",
                "value": 378.61,
                "unit": None,
                "timestamp": 1664251882.5,
                "path": "DataHall.Rack.Server.FlowRate",
                "asset_path": "DataHall.data_hall_0.Rack.rack 1.Server.server_3",
            }
        ],
    }
    assert docs.edges == {
        "is_parent_of": [
            {"_key": hall, "_from": "Scenario/000", "_to": f"DataHall/{hall}", "next_category": "DataHall"},
            {"_key": rack, "_from": f"DataHall/{hall}", "_to": f"Rack/{rack}", "next_category": "Rack"},
            {"_key": server, "_from": f"Rack/{rack}", "_to": f"Server/{server}", "next_category": "Server"},
        ],
        "has_data_point": [
            {"_key": dp_key, "_from": f"Server/{server}", "_to": f"Telemetry/{dp_key}", "next_category": "FlowRate"}
        ],
    }
    for collection in (*docs.vertices.values(), *docs.edges.values()):
        for doc in collection:
            assert ARANGO_KEY.fullmatch(doc["_key"])
    assert decode_key(rack) == "DataHall.data_hall_0.Rack.rack 1"
    assert docs.count() == 9


def test_same_id_under_two_parents_stays_two_vertices():
    records = [
        record_for("DataHall.h.Rack.rack_0.Server.server_3.Telemetry.FlowRate"),
        record_for("DataHall.h.Rack.rack_1.Server.server_3.Telemetry.FlowRate"),
        record_for("DataHall.h.Rack.rack_1.Server.server_3.Attribute.Model", {"value": "X", "unit": "u", "q": 1}),
    ]
    docs = documents_for_records(records)
    assert [v["name"] for v in docs.vertices["Server"]] == ["server_3", "server_3"]
    assert len({v["_key"] for v in docs.vertices["Server"]}) == 2
    assert len(docs.vertices["Scenario"]) == 1 and len(docs.vertices["DataHall"]) == 1
    assert len(docs.vertices["Rack"]) == 2
    assert len(docs.edges["is_parent_of"]) == 1 + 2 + 2
    assert {e["_from"] for e in docs.edges["has_data_point"]} == {
        "Server/DataHall.h.Rack.rack_0.Server.server_3",
        "Server/DataHall.h.Rack.rack_1.Server.server_3",
    }
    (attribute,) = docs.vertices["Attribute"]
    assert attribute["unit"] == "u" and attribute["q"] == 1 and "Server" not in attribute


def test_later_record_wins_for_the_same_data_point():
    first = record_for(DP_PATH, {"value": 1.0, "timestamp": 1.0})
    second = record_for(DP_PATH, {"value": 2.0, "timestamp": 2.0})
    docs = documents_for_records([first, second])
    assert [d["value"] for d in docs.vertices["Telemetry"]] == [2.0]


def test_bad_records_are_reported():
    with pytest.raises(SnapshotError, match="missing key 'asset_path'"):
        documents_for_record({"type": "Telemetry", "field": "X"})
    with pytest.raises(SnapshotError, match="type must be one of"):
        documents_for_record({"asset_path": "A.a", "type": "Other", "field": "X"})
    with pytest.raises(SnapshotError, match="needs an asset path"):
        documents_for_record({"asset_path": "", "type": "Telemetry", "field": "X"})


def test_key_encoding_examples():
    assert encode_key("rack 1") == "rack%201"
    assert encode_key("100%") == "100%25"
    assert encode_key("a$b/c") == "a%24b%2Fc"
    assert encode_key("server_3-FlowRate(x)") == "server_3-FlowRate(x)"
    long_text = "Rack.r." * 60
    key = encode_key(long_text)
    assert len(key) == MAX_KEY_BYTES and is_hashed_key(key)
    assert encode_key(long_text + "x") != key
    with pytest.raises(ValueError, match="shortened with a hash"):
        decode_key(key)
    for bad in ("a b", "%zz", "%2", "%C3"):
        with pytest.raises(ValueError):
            decode_key(bad)
    with pytest.raises(ValueError):
        encode_key("")


@given(st.text(min_size=1, max_size=300))
def test_any_text_gives_a_valid_key_that_decodes_back(text):
    key = encode_key(text)
    assert ARANGO_KEY.fullmatch(key)
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    if is_hashed_key(key):
        assert len(key) == MAX_KEY_BYTES
    else:
        assert decode_key(key) == text


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_distinct_texts_give_distinct_keys(a, b):
    if a != b:
        assert encode_key(a) != encode_key(b)


def _model() -> Model:
    def points(slot_path: str, **cats: str) -> dict[str, PointSpec]:
        return {
            name: PointSpec(f"{slot_path}.{name}", slot_path, PointDef(name=name, category=category))
            for name, category in cats.items()
        }

    server = SlotSpec(
        "Server", "DataHall.Rack.Server", ("Server",), points=points("DataHall.Rack.Server", Flow="Telemetry")
    )
    rack = SlotSpec("Rack", "DataHall.Rack", ("Rack",), points=points("DataHall.Rack", P="Telemetry"))
    rack.children["Server"] = server
    crac = SlotSpec("CRAC", "DataHall.CRAC", ("CRAC",), points=points("DataHall.CRAC", Model="Attribute"))
    hall = SlotSpec("DataHall", "DataHall", ("DataHall",), children={"Rack": rack, "CRAC": crac})
    room_server = SlotSpec("Server", "Room.Server", ("Server",), points=points("Room.Server", Flow="Telemetry"))
    room = SlotSpec("Room", "Room", ("Room",), children={"Server": room_server})
    slots = {s.type_path: s for root in (hall, room) for s in root.walk()}
    all_points = {p.type_path: p for s in slots.values() for p in s.points.values()}
    return Model(roots={"DataHall": hall, "Room": room}, points=all_points, slots=slots)


def test_collections_and_edge_definitions_of_a_model():
    model = _model()
    assert collections_for_model(model) == [
        "Scenario",
        "DataHall",
        "Rack",
        "Server",
        "CRAC",
        "Room",
        "Telemetry",
        "Attribute",
    ]
    assert edges_for_model(model) == [
        {
            "edge_collection": "is_parent_of",
            "from_vertex_collections": ["DataHall", "Rack", "Room", "Scenario"],
            "to_vertex_collections": ["CRAC", "DataHall", "Rack", "Room", "Server"],
        },
        {
            "edge_collection": "has_data_point",
            "from_vertex_collections": ["CRAC", "Rack", "Server"],
            "to_vertex_collections": ["Attribute", "Telemetry"],
        },
    ]
    # every document of a record of this model lands in a collection and edge definition of the model
    docs = documents_for_record(record_for("DataHall.h.Rack.r.Server.s.Telemetry.Flow"))
    assert set(docs.vertices) <= set(collections_for_model(model))
    definitions = {d["edge_collection"]: d for d in edges_for_model(model)}
    for name, edges in docs.edges.items():
        for edge in edges:
            assert edge["_from"].split("/")[0] in definitions[name]["from_vertex_collections"]
            assert edge["_to"].split("/")[0] in definitions[name]["to_vertex_collections"]


segment = st.text(st.characters(blacklist_characters=".", blacklist_categories=("Cs",)), min_size=1, max_size=10)
type_name = segment.filter(lambda s: s not in ("path", "asset_path", "type", "field", "value", "unit", "timestamp"))
type_name = type_name.filter(lambda s: s not in ("Telemetry", "Attribute"))


@given(
    st.lists(st.tuples(type_name, segment), min_size=1, max_size=4),
    st.sampled_from(["Telemetry", "Attribute"]),
    segment,
)
def test_documents_of_any_data_point_have_valid_keys_that_decode_to_paths(pairs, category, name):
    asset_path = ".".join(f"{t}.{i}" for t, i in pairs)
    docs = documents_for_record(record_for(f"{asset_path}.{category}.{name}", {"value": 1}))
    parents = docs.edges["is_parent_of"]
    assert [e["next_category"] for e in parents] == [t for t, _ in pairs]
    assert parents[0]["_from"] == "Scenario/000"
    for previous, edge in itertools.pairwise(parents):
        assert edge["_from"] == previous["_to"]
    for docs_list in (*docs.vertices.values(), *docs.edges.values()):
        for doc in docs_list:
            assert ARANGO_KEY.fullmatch(doc["_key"]) and len(doc["_key"]) <= MAX_KEY_BYTES
    for type_name_, _ in pairs:
        for vertex in docs.vertices[type_name_]:
            if "asset_path" in vertex and not is_hashed_key(vertex["_key"]):  # a slot may be named Scenario
                assert decode_key(vertex["_key"]) == vertex["asset_path"]
    (point,) = docs.vertices[category]
    assert docs.edges["has_data_point"][0]["_to"] == f"{category}/{point['_key']}"
    assert point["name"] == name and point["asset_path"] == asset_path

"""ArangoDB documents, keys, generated AQL and bind variables: user text only ever travels in bind variables."""

from __future__ import annotations

import re

import pytest

from tiro.stores.arango import graph_documents, nest_qpath_result
from tiro.stores.arango_aql import (
    attributes_and_missing_query,
    distinct_paths_query,
    latest_query,
    qpath_query,
    remove_stale_query,
    upsert_query,
)
from tiro_models.graph_docs import decode_key
from tiro_models.qpath import parse_qpath
from tiro_models.records import decompose_point

EVIL = [
    "x' || REMOVE 'a' IN Telemetry //",
    '"\\); FOR d IN _users RETURN d //',
    "@@evil_collection",
    "rack 1.with/slash",
    "ünï cødé\n",
]
UPSTREAM_QPATH = {
    "DataHall": {
        "Rack": {"$name_match": "_1", "Server": {"FlowRate": {"$lt": 400}}},
        "CRAC": {"ActivePower": None, "_ReturnTemperature": {"$gt": 25}},
    }
}


def _bind_refs(text: str) -> set[str]:
    return set(re.findall(r"@@?\w+", text))


def _assert_well_formed(query) -> None:
    """Every bind reference in the text has a value and every value is referenced (ArangoDB rejects both)."""
    used = {ref[1:] for ref in _bind_refs(query.text)}
    assert used == set(query.bind_vars)


def test_record_documents_have_path_qualified_keys_and_epoch_timestamps():
    record = decompose_point(
        "DataHall.data_hall_0.Rack.rack 1.Server.server_3.Telemetry.Flow Rate",
        {"value": 12.5, "timestamp": "2022-09-26T23:45:50", "unit": "L/hr"},
    )
    docs = graph_documents([record])
    server = docs["Server"][0]
    assert decode_key(server["_key"]) == "DataHall.data_hall_0.Rack.rack 1.Server.server_3"
    assert server["name"] == "server_3" and server["path"] == "DataHall.Rack.Server"
    point = docs["Telemetry"][0]
    assert decode_key(point["_key"]) == "DataHall.data_hall_0.Rack.rack 1.Server.server_3.Telemetry.Flow Rate"
    assert point["timestamp"] == pytest.approx(1664235950.0) and point["unit"] == "L/hr"
    edge = docs["has_data_point"][0]
    assert edge["_from"] == f"Server/{server['_key']}" and edge["_to"] == f"Telemetry/{point['_key']}"
    assert {e["_to"] for e in docs["is_parent_of"]} >= {f"Server/{server['_key']}"}


def test_points_mark_floats_so_reads_can_restore_them():
    docs = graph_documents(
        [decompose_point("A.a.Telemetry.F", {"value": 800.0}), decompose_point("A.a.Telemetry.I", {"value": 8})]
    )
    assert {d["name"]: d["value_kind"] for d in docs["Telemetry"]} == {"F": "float", "I": None}


def test_qpath_regex_filters_see_floats_as_python_writes_them():
    query = qpath_query(parse_qpath({"A": {"F": {"$match": "0$"}}}), cutoff=None)
    assert "CONCAT(TO_STRING(v0_0[0]), '.0')" in query.text and "v0_0[1] == 'float'" in query.text


def test_the_newest_sample_of_a_point_wins_within_a_batch():
    path = "DataHall.dh.Rack.r.Telemetry.P"
    newer = decompose_point(path, {"value": 2, "timestamp": 200.0})
    older = decompose_point(path, {"value": 1, "timestamp": 100.0})
    assert [d["value"] for d in graph_documents([newer, older])["Telemetry"]] == [2]


@pytest.mark.parametrize("evil", EVIL)
def test_injection_in_ids_and_names_stays_in_bind_variables(evil):
    record = decompose_point(f"DataHall.{evil.replace('.', '_')}.Telemetry.{evil.replace('.', '_')}", {"value": evil})
    query = upsert_query(graph_documents([record]))
    _assert_well_formed(query)
    assert evil.replace(".", "_") not in query.text and "REMOVE" not in query.text
    assert "_users" not in query.text
    plain = upsert_query(graph_documents([decompose_point("DataHall.a.Telemetry.b", {"value": 1})]))
    assert query.text == plain.text  # the text depends on the shape of the batch only


def test_one_request_upserts_every_collection_and_refuses_to_go_back_in_time():
    docs = graph_documents([decompose_point("DataHall.a.Rack.b.Attribute.c", {"value": "x", "timestamp": 5.0})])
    query = upsert_query(docs)
    _assert_well_formed(query)
    assert sorted(v for k, v in query.bind_vars.items() if k.startswith("@")) == sorted(docs)
    assert len(re.findall(r"UPSERT \{_key: d\d+\._key\}", query.text)) == len(docs)
    assert "d0.timestamp < OLD.timestamp) ? {} : d0)" in query.text


@pytest.mark.parametrize("evil", EVIL)
def test_latest_and_attribute_queries_bind_paths_and_cutoffs(evil):
    for query in (
        latest_query([evil], 12.5),
        latest_query(None, None),
        distinct_paths_query(),
        attributes_and_missing_query([evil], [evil + ".P"], 3.0),
        remove_stale_query(["DataHall", evil], [evil], [evil]),
    ):
        _assert_well_formed(query)
        assert evil not in query.text
    assert latest_query([evil], 12.5).text == latest_query(["a"], 1.0).text
    assert latest_query([evil], 12.5).bind_vars["paths2"] == [evil]


def test_qpath_aql_fixes_lt_and_binds_regexes_names_and_operands():
    query = qpath_query(parse_qpath(UPSTREAM_QPATH), cutoff=100.0)
    _assert_well_formed(query)
    values = list(query.bind_vars.values())
    assert "_1" in values and 400 in values and 25 in values and "ReturnTemperature" in values
    flow = next(k for k, v in query.bind_vars.items() if v == 400)
    assert re.search(rf"\[0\] < @{flow}\b", query.text)  # `$lt` is "less than" (upstream emitted ">")
    temp = next(k for k, v in query.bind_vars.items() if v == 25)
    assert re.search(rf"\[0\] > @{temp}\b", query.text)
    assert "REGEX_TEST(a1.name, @" in query.text
    for literal in ("_1", "400", "FlowRate", "ReturnTemperature", "ActivePower"):
        assert literal not in query.text


@pytest.mark.parametrize("evil", EVIL)
def test_qpath_values_and_regexes_never_reach_the_text(evil):
    qpath = {"DataHall": {"$name_match": evil, "Rack": {"ActivePower": {"$match": evil, "$not_match": evil}}}}
    query = qpath_query(parse_qpath(qpath), cutoff=None)
    _assert_well_formed(query)
    assert evil not in query.text
    same_shape = {"DataHall": {"$name_match": "x", "Rack": {"ActivePower": {"$match": "y", "$not_match": "z"}}}}
    assert query.text == qpath_query(parse_qpath(same_shape), cutoff=None).text


def test_loop_variables_are_never_redeclared():
    docs = graph_documents([decompose_point("DataHall.a.Rack.b.Attribute.c", {"value": "x"})])
    for query in (
        qpath_query(parse_qpath(UPSTREAM_QPATH), cutoff=None),
        upsert_query(docs),
        latest_query(["a"], 1.0),
        distinct_paths_query(),
        attributes_and_missing_query(["A"], ["A.p"], 1.0),
        remove_stale_query(["A", "B", "C"], ["A"], None),
    ):
        declared = re.findall(r"\b(?:FOR|LET|COLLECT)\s+(\w+)", query.text)
        assert len(declared) == len(set(declared)), query.text


def test_qpath_rows_nest_like_a_snapshot_and_drop_empty_assets():
    parsed = parse_qpath(UPSTREAM_QPATH)
    rows = [
        [
            {
                "id": "data_hall_0",
                "points": [],
                "children": [
                    [
                        {
                            "id": "rack_1",
                            "points": [],
                            "children": [
                                [
                                    {
                                        "id": "server_0",
                                        "points": [["Telemetry", "FlowRate", 12, 5, "L/hr", "float"]],
                                        "children": [],
                                    }
                                ]
                            ],
                        },
                        {"id": "rack_11", "points": [], "children": [[]]},
                    ],
                    [{"id": "crac_0", "points": [["Telemetry", "ActivePower", 800, 6.0, None, None]], "children": []}],
                ],
            }
        ]
    ]
    assert nest_qpath_result(parsed.roots, rows) == {
        "DataHall": {
            "data_hall_0": {
                "Rack": {
                    "rack_1": {
                        "Server": {
                            "server_0": {"Telemetry": {"FlowRate": {"value": 12.0, "timestamp": 5.0, "unit": "L/hr"}}}
                        }
                    }
                },
                "CRAC": {"crac_0": {"Telemetry": {"ActivePower": {"value": 800, "timestamp": 6.0}}}},
            }
        }
    }

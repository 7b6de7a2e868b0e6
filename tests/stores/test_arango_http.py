"""The ArangoDB store's requests through the real python-arango client, answered by a scripted HTTP double.

No ArangoDB server runs here: these tests check what is sent (one request per batch, AQL text, bind variables,
credentials) and how answers and errors are turned into results. The full contract runs against a real server in
test_arango_contract.py when TIRO_TEST_ARANGO_URL is set.
"""

from __future__ import annotations

import base64
import json

import pytest
from http_double import arango_double, cursor_result

from tiro.stores.arango import ArangoGraphStore, ArangoStoreError, graph_documents
from tiro.stores.arango_aql import upsert_query
from tiro.stores.base import Sample
from tiro_models.records import decompose_point

PASSWORD = "arango-pa55word"
CURSOR = "/_db/tiro/_api/cursor"


@pytest.fixture
def arango():
    with arango_double() as double:
        yield double


def _store(double, **options) -> ArangoGraphStore:
    return ArangoGraphStore(double.url, password=PASSWORD, **options)


def _records(n: int) -> list[dict]:
    return [
        decompose_point(f"DataHall.dh.Rack.rack {i % 3}.Telemetry.ActivePower", {"value": float(i), "timestamp": i})
        for i in range(n)
    ]


def test_upserting_a_batch_is_one_request_with_the_documents_in_bind_variables(arango):
    records = _records(9)
    assert _store(arango).upsert_records(records) == 9
    (call,) = arango.calls("POST", CURSOR)
    body = json.loads(call["body"])
    expected = upsert_query(graph_documents(records))
    assert body["query"] == expected.text
    assert body["bindVars"] == json.loads(json.dumps(expected.bind_vars))
    points = next(v for k, v in body["bindVars"].items() if isinstance(v, list) and v and v[0].get("type"))
    assert sorted(p["value"] for p in points) == [6.0, 7.0, 8.0]  # the newest sample of each of the 3 points
    assert call["headers"]["Authorization"] == "Basic " + base64.b64encode(f"root:{PASSWORD}".encode()).decode()


def test_an_empty_batch_sends_nothing(arango):
    assert _store(arango).upsert_records([]) == 0
    assert arango.requests == []


def test_latest_matches_patterns_against_stored_type_paths_then_binds_them(arango):
    arango.script(
        "POST",
        CURSOR,
        (201, cursor_result([["DataHall.Rack.ActivePower", "DataHall.CRAC.ActivePower", "DataHall.Rack.X"]])),
        (201, cursor_result([[["DataHall.dh.Rack.r 1", "Telemetry", "ActivePower", 3.5, 100.0, "W", "float"]]])),
    )
    latest = _store(arango).latest("%%Rack%ActivePower", max_age=60)
    assert latest == {"DataHall.dh.Rack.r 1.Telemetry.ActivePower": Sample(3.5, 100.0, "W")}
    second = json.loads(arango.calls("POST", CURSOR)[1]["body"])
    assert ["DataHall.Rack.ActivePower"] in second["bindVars"].values()


def test_floats_that_json_turned_into_integers_come_back_as_floats(arango):
    rows = [
        ["A.a", "Telemetry", "P", 800, 100, "W", "float"],
        ["A.a", "Telemetry", "Q", 800, 100, None, None],
        ["A.a", "Attribute", "R", True, 100, None, None],
    ]
    arango.script("POST", CURSOR, (201, cursor_result([rows])))
    latest = _store(arango).latest()
    assert {p: (type(s.value), type(s.timestamp)) for p, s in latest.items()} == {
        "A.a.Telemetry.P": (float, float),
        "A.a.Telemetry.Q": (int, float),
        "A.a.Attribute.R": (bool, float),
    }


def test_a_pattern_matching_nothing_asks_once(arango):
    arango.script("POST", CURSOR, (201, cursor_result([["DataHall.CRAC.ActivePower"]])))
    assert _store(arango).latest("%%Server%%") == {}
    assert len(arango.calls("POST", CURSOR)) == 1


def test_a_rejected_login_names_the_user_not_the_password(arango):
    arango.script("POST", CURSOR, (401, {"error": True, "errorNum": 11, "errorMessage": "not authorized", "code": 401}))
    store = _store(arango, username="tiro")
    with pytest.raises(ArangoStoreError, match="user 'tiro' was not accepted") as info:
        store.upsert_records(_records(1))
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(store) and PASSWORD not in repr(store.settings)


def test_a_missing_database_says_to_bootstrap(arango):
    arango.script(
        "POST",
        CURSOR,
        (404, {"error": True, "errorNum": 1228, "errorMessage": "database not found", "code": 404}),
    )
    with pytest.raises(ArangoStoreError, match="database 'tiro' does not exist \\(run bootstrap\\)"):
        _store(arango).latest()


def test_server_errors_keep_the_server_message_without_secrets(arango):
    message = f"AQL: syntax error near {PASSWORD}"
    arango.script("POST", CURSOR, (400, {"error": True, "errorNum": 1501, "errorMessage": message, "code": 400}))
    with pytest.raises(ArangoStoreError, match="HTTP 400 error 1501") as info:
        _store(arango).latest()
    assert PASSWORD not in str(info.value)


def test_settings_from_url_options_and_environment(monkeypatch):
    monkeypatch.setenv("TIRO_ARANGO_USERNAME", "env-user")
    monkeypatch.setenv("TIRO_ARANGO_PASSWORD", "env-pass")
    store = ArangoGraphStore("http://a:8529,http://b:8529?db_name=dc&graph_name=g")
    s = store.settings
    assert (s.hosts, s.db_name, s.graph_name, s.username, s.password) == (
        ("http://a:8529", "http://b:8529"),
        "dc",
        "g",
        "env-user",
        "env-pass",
    )
    given = ArangoGraphStore("http://a:8529", auth={"password": "p"}).settings
    assert (given.username, given.password) == ("env-user", "p")
    assert "env-pass" not in repr(store)
    with pytest.raises(ValueError, match="unknown ArangoDB option"):
        ArangoGraphStore("http://a:8529", colour="red")
    with pytest.raises(ValueError, match="expected http"):
        ArangoGraphStore("ftp://a")


def test_store_urls_open_the_arango_backend_with_its_options():
    from tiro.stores.urls import open_graph_store

    store = open_graph_store("arango+http://g.example:8529", db_name="dc", password=PASSWORD)
    assert isinstance(store, ArangoGraphStore)
    assert (store.settings.hosts, store.settings.db_name) == (("http://g.example:8529",), "dc")
    assert isinstance(open_graph_store("https://g.example:8529"), ArangoGraphStore)


def test_bootstrap_requests_create_database_collections_graph_and_indexes(arango):
    from tiro.examples import example_dir, example_files
    from tiro_models.compile import load_model
    from tiro_models.graph_docs import collections_for_model, edges_for_model

    model = load_model(*example_files(example_dir("datahall")))
    arango.script("GET", "/_db/_system/_api/database", (200, {"result": ["_system"]}))
    arango.script("POST", "/_db/_system/_api/database", (201, {"result": True}))
    arango.script("GET", "/_db/tiro/_api/collection", (200, {"result": []}))
    arango.script("POST", "/_db/tiro/_api/collection", (200, {"name": "x"}))
    arango.script("POST", "/_db/tiro/_api/gharial", (202, {"graph": {"name": "scenario"}}))
    index = {"id": "c/1", "type": "persistent", "fields": ["path"], "isNewlyCreated": True, "code": 201, "error": False}
    arango.script("POST", "/_db/tiro/_api/index", (201, index))
    arango.script("POST", CURSOR, (201, cursor_result([1])), (201, cursor_result([[]])))
    report = _store(arango).bootstrap(model)

    vertices = collections_for_model(model)
    created = [json.loads(r["body"]) for r in arango.calls("POST", "/_db/tiro/_api/collection")]
    assert [c["name"] for c in created] == [*vertices, "is_parent_of", "has_data_point"]
    assert [c.get("type") for c in created][-2:] == [3, 3]  # edge collections
    graph = json.loads(arango.calls("POST", "/_db/tiro/_api/gharial")[0]["body"])
    assert graph["name"] == "scenario"
    assert [
        {"edge_collection": d["collection"], "from_vertex_collections": d["from"], "to_vertex_collections": d["to"]}
        for d in graph["edgeDefinitions"]
    ] == edges_for_model(model)
    indexes = [(r["query"]["collection"], json.loads(r["body"])) for r in arango.calls("POST", "/_db/tiro/_api/index")]
    assert {(c, tuple(b["fields"]), b["type"]) for c, b in indexes} == {
        (c, f, "persistent") for c in vertices if c != "Scenario" for f in (("path",), ("asset_path",))
    }
    root, stale = (json.loads(r["body"]) for r in arango.calls("POST", CURSOR))
    assert [{"_key": "000", "name": "000", "path": ""}] in root["bindVars"].values()
    assert list(model.slots) in stale["bindVars"].values()
    assert report.created[:2] == ["database tiro", "vertex collection Scenario"]
    assert "graph scenario" in report.created and "index Rack(path)" in report.created
    assert report.removed == [] and PASSWORD not in json.dumps(report.to_dict())

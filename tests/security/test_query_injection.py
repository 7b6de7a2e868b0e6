"""Injection payloads in patterns, qpath values and ids: AQL text never carries them and sqlite binds them.

The AQL builders must produce text that depends only on the shape of a request, so any value gives the same text
as a harmless one; the sqlite stores take hostile patterns and qpaths without error and without losing data.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiro.examples import example_dir, example_files
from tiro.stores.arango_aql import (
    attributes_and_missing_query,
    latest_query,
    qpath_query,
    remove_stale_query,
    upsert_query,
)
from tiro.stores.urls import open_graph_store, open_telemetry_store
from tiro_models.compile import load_model
from tiro_models.errors import InputError
from tiro_models.graph_docs import decode_key, encode_key, is_hashed_key
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.qpath import parse_qpath
from tiro_models.records import decompose

PROPERTY = settings(derandomize=True, max_examples=200, deadline=None, database=None)
PAYLOADS = [
    "x' || REMOVE 'a' IN Telemetry //",
    '"); FOR d IN _users RETURN d //',
    "@@evil_collection",
    "@value",
    "'; DROP TABLE telemetry_samples; --",
    "%' OR '1'='1",
    '") OR 1=1 --',
    "*/ RETURN 1 /*",
    "\x00\n\r\t",
    "ünï cødé ✓",
]
hostile = st.one_of(st.sampled_from(PAYLOADS), st.text(min_size=1, max_size=40))
# ArangoDB's document key alphabet (its manual, "Document keys"): letters, digits and _-:.@()+,=;$!*'%
ARANGO_KEY = re.compile(r"[A-Za-z0-9_\-:.@()+,=;$!*'%]{1,254}")


def _refs(text: str) -> set[str]:
    return {ref[1:] for ref in re.findall(r"@@?\w+", text)}


def _well_formed(query) -> None:
    assert _refs(query.text) == set(query.bind_vars), query.text


@PROPERTY
@given(paths=st.lists(hostile, max_size=5), cutoff=st.one_of(st.none(), st.floats(allow_nan=False)))
def test_latest_query_text_does_not_depend_on_paths_or_cutoff(paths, cutoff) -> None:
    query = latest_query(paths, cutoff)
    _well_formed(query)
    assert query.text == latest_query(["a"], 1.0).text
    assert list(paths) in query.bind_vars.values() and cutoff in query.bind_vars.values()


@PROPERTY
@given(slots=st.lists(hostile, min_size=1, max_size=4), points=st.lists(hostile, max_size=4))
def test_attribute_and_stale_queries_bind_every_path(slots, points) -> None:
    same_depth = ["a" + ".a" * s.count(".") for s in slots]  # only the depth (an int) may shape the text
    query = attributes_and_missing_query(slots, points, 0.0)
    _well_formed(query)
    assert query.text == attributes_and_missing_query(same_depth, ["p"], 5.0).text
    stale = remove_stale_query(slots, points, points or None)
    _well_formed(stale)
    assert stale.text == remove_stale_query(["c"] * len(slots), ["s"], ["k"] if points else None).text


@PROPERTY
@given(
    docs=st.dictionaries(
        hostile, st.lists(st.dictionaries(hostile, hostile, min_size=1, max_size=3), min_size=1, max_size=3), max_size=3
    )
)
def test_upsert_query_binds_collections_keys_and_values(docs) -> None:
    query = upsert_query(docs)
    _well_formed(query)
    benign = {f"c{i}": [{"_key": "k"}] for i in range(len(docs))}
    assert query.text == upsert_query(benign).text


@PROPERTY
@given(name=hostile, regex=hostile, point=hostile, number=st.floats(allow_nan=False, allow_infinity=False))
def test_qpath_query_binds_names_regexes_points_and_operands(name, regex, point, number) -> None:
    hostile_doc = {
        "DataHall": {"$name_match": name, "Rack": {"Server": {point: {"$lt": number, "$match": regex}}}},
    }
    try:
        parsed = parse_qpath(hostile_doc)
    except InputError as e:  # e.g. an invalid regular expression: refused with a message, never run
        assert str(e)
        return
    query = qpath_query(parsed, cutoff=None)
    _well_formed(query)
    benign = {"DataHall": {"$name_match": "n", "Rack": {"Server": {"P": {"$lt": 1, "$match": "r"}}}}}
    assert query.text == qpath_query(parse_qpath(benign), cutoff=None).text


@PROPERTY
@given(text=st.text(min_size=1, max_size=300))
def test_any_id_becomes_a_valid_arango_key(text) -> None:
    key = encode_key(text)
    assert ARANGO_KEY.fullmatch(key) and len(key.encode()) <= 254, key
    if not is_hashed_key(key):
        assert decode_key(key) == text


def test_the_arango_store_executes_only_bound_queries() -> None:
    source = Path(__import__("tiro.stores.arango", fromlist=["x"]).__file__).read_text()
    calls = re.findall(r"aql\.execute[^\n]*", source)
    assert calls and all("bind_vars=query.bind_vars" in call and "query.text" in call for call in calls), calls


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory):
    """sqlite telemetry and graph stores holding one mock snapshot of the datahall example."""
    model = load_model(*example_files(example_dir("datahall")))
    records = list(decompose("", Mocker(instantiate(model, seed=1), seed=1).snapshot()))
    for r in records:
        r["timestamp"] = 1_800_000_000.0
    url = f"sqlite:///{tmp_path_factory.mktemp('inject') / 'tiro.db'}"
    telemetry, graph = open_telemetry_store(url), open_graph_store(url)
    telemetry.bootstrap()
    telemetry.write_records(records)
    graph.bootstrap(model)
    graph.upsert_records(records)
    yield telemetry, graph
    telemetry.close()
    graph.close()


@settings(PROPERTY, max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=hostile)
def test_hostile_patterns_and_qpaths_on_sqlite_read_only_what_matches(stores, pattern) -> None:
    telemetry, graph = stores
    every = telemetry.latest()
    every_graph = graph.latest()
    for read in (telemetry.latest, graph.latest, lambda p: telemetry.history(p, since=0)):
        try:
            got = read(pattern)
        except (InputError, ValueError) as e:  # a pattern the store cannot use is refused with a message
            assert str(e)
            continue
        assert set(got) <= set(every) | set(every_graph)
    try:
        graph.query_qpath({"DataHall": {"$name_match": pattern, "Rack": {"ActivePower": {"$match": pattern}}}})
    except InputError as e:
        assert str(e)
    assert telemetry.latest() == every and graph.latest() == every_graph  # nothing dropped or changed

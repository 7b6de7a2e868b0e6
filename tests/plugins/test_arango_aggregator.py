"""The arango_db aggregator: upstream config keys, batching into one request per batch, python-arango off the loop.

python-arango talks to a scripted HTTP double of ArangoDB's cursor endpoint (no ArangoDB server runs here).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path

import pytest

from karez.delivery import delivery_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stores"))

from http_double import arango_double

from tiro.examples import example_dir, example_files
from tiro.frames import points_frames
from tiro.plugins.karez import ArangoAggregator, TiroPreprocessConverter
from tiro.plugins.karez.mock_collector import _category_of
from tiro.stores.arango import ArangoStoreError
from tiro_models.records import decompose_point

PASSWORD = "aggregator-secret"
CURSOR = "/_db/dc/_api/cursor"


def _role(url: str, **config) -> ArangoAggregator:
    scenario, uses = example_files(example_dir("datahall"))
    base = {
        "type": "arango_db",
        "category": "graph_data",
        "scenario": str(scenario),
        "uses": ", ".join(map(str, uses)),
        "db_name": "dc",
        "graph_name": "g",
        "hosts": url,
        "auth": {"password": PASSWORD},
        "flush_interval": 0.2,
    }
    return ArangoAggregator({**base, **config}, nats_addr="nats://127.0.0.1:1")


def _record(i: int) -> dict:
    record = decompose_point(f"DataHall.dh.Rack.r{i}.Telemetry.ActivePower", {"value": i, "timestamp": 1000 + i})
    record["_karez"] = {"category": "graph_data"}
    return record


def _upserted_points(call) -> int:
    body = json.loads(call["body"])
    return sum(len(v) for k, v in body["bindVars"].items() if isinstance(v, list) and v and "type" in v[0])


def test_upstream_keys_configure_the_store_and_hide_the_password():
    role = _role("http://h1:8529", uses=[str(p) for p in example_files(example_dir("datahall"))[1]])
    s = role.store.settings
    assert (s.hosts, s.db_name, s.graph_name, s.username, s.password) == (
        ("http://h1:8529",),
        "dc",
        "g",
        "root",
        PASSWORD,
    )
    assert role.subscribe_topic == "karez.graph_data.>" and role.subscribe_queue == "graph_data"
    assert "DataHall.Rack.ActivePower" in role.model.points
    assert PASSWORD not in repr(role) and PASSWORD not in repr(role.store)


async def test_records_are_upserted_in_batches_of_one_request_each():
    with arango_double("dc") as arango:
        role = _role(arango.url, batch_size=10)
        await role.start_writer()
        for i in range(25):
            await role.process(_record(i))
        await role.process({"not": "a record"})  # dropped, logged
        await role.flush_writes()
        calls = arango.calls("POST", CURSOR)
        assert [_upserted_points(c) for c in calls] == [10, 10, 5]
        assert role.items_written == 25 and role.stats.dropped == 1
        await role.close()


async def test_python_arango_runs_in_a_worker_thread_while_the_loop_goes_on():
    with arango_double("dc") as arango:
        arango.gate = threading.Event()
        role = _role(arango.url, batch_size=2)
        await role.start_writer()
        await role.process(_record(1))
        await role.process(_record(2))  # a full batch: handed to the writer, whose request now hangs
        # Waiting in a thread needs the event loop, so reaching the next line proves the loop is not blocked.
        assert await asyncio.to_thread(arango.arrived.wait, 10)
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 20 and role.items_written == 0
        arango.gate.set()
        await role.flush_writes()
        assert role.items_written == 2
        await role.close()


async def test_durable_mode_upserts_before_returning_and_raises_without_secrets():
    with arango_double("dc") as arango:
        role = _role(arango.url)
        role.delivery = delivery_for(listens=True, durable=True)  # not started: consume() is what it calls
        await role.consume(_record(1), "karez.graph_data.x")
        assert len(arango.calls("POST", CURSOR)) == 1
        arango.script(
            "POST", CURSOR, (503, {"error": True, "errorNum": 503, "errorMessage": f"busy {PASSWORD}", "code": 503})
        )
        with pytest.raises(ArangoStoreError) as info:
            await role.consume(_record(2), "karez.graph_data.x")
        assert PASSWORD not in str(info.value)
        await role.close()


async def test_records_frames_are_upserted_as_their_records_and_count_their_rows():
    with arango_double("dc") as arango:
        role = _role(arango.url, batch_size=10, frames=True)
        await role.start_writer()
        framed = preprocess_frames(12)
        await role.handle_items([*framed, {"not": "a record"}], "karez.category.graph_data")
        await role.flush_writes()
        calls = arango.calls("POST", CURSOR)
        assert sum(_upserted_points(c) for c in calls) == 12
        assert role.items_written == 12 and role.stats.dropped == 1
        await role.close()


def preprocess_frames(n: int) -> list[dict]:
    """`n` records as the `tiro.records` frames tiro_preprocess makes of collected points."""
    points = {f"DataHall.dh.Rack.r{i}.Telemetry.ActivePower": {"value": i / 2, "timestamp": 1000 + i} for i in range(n)}
    converter = TiroPreprocessConverter({"type": "tiro_preprocess", "frames": True}, nats_addr=None)
    return converter.convert_batch(points_frames(points, _category_of), "s")

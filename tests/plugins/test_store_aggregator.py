"""The tiro_store aggregator over a real nats-server: batching by size and time, drain, replays, durable mode, DLQ."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

import nats
import pytest

from karez.durable import DurableLink, ensure_stream, stream_for
from karez.errors import DataError
from tiro.examples import example_dir, example_files
from tiro.plugins.karez import TiroStoreAggregator
from tiro.stores.urls import open_graph_store, open_telemetry_store
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.records import decompose

T0 = 1_800_000_000.0


def _records(seed: int = 4, ts: float = T0) -> list[dict]:
    model = load_model(*example_files(example_dir("datahall")))
    records = list(decompose("", Mocker(instantiate(model, seed=seed), seed=seed).snapshot()))
    for record in records:
        record["timestamp"] = ts
    return records


def _role(nats_url: str | None, store: str, **config) -> TiroStoreAggregator:
    return TiroStoreAggregator(
        {"type": "tiro_store", "name": "store", "category": "graph_data", "store": store, **config}, nats_addr=nats_url
    )


async def _wait(condition, what: str, timeout: float = 20) -> None:
    """Poll a condition the role updates as it works (not a timed assertion: the bound only stops a hung test)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _stop(role: TiroStoreAggregator, task: asyncio.Task) -> None:
    await role.drain()
    await role.close()
    task.cancel()


async def _all_acked(js, stream: str) -> None:
    """Wait until the store's consumer has nothing pending and nothing unacknowledged (a hung test stops at 20 s)."""
    for _ in range(2000):
        info = await js.consumer_info(stream, "aggregator_graph_data")
        if info.num_ack_pending == 0 and info.num_pending == 0:
            return
        await asyncio.sleep(0.01)
    assert (info.num_ack_pending, info.num_pending) == (0, 0)


def _stored(url: str) -> tuple[dict, dict]:
    telemetry, graph = open_telemetry_store(url), open_graph_store(url)
    try:
        return telemetry.history("%%", since=0), graph.latest()
    finally:
        telemetry.close()
        graph.close()


def _path(record: dict) -> str:
    return f"{record['asset_path']}.{record['type']}.{record['field']}"


async def test_records_are_batched_written_to_both_stores_and_replays_are_stored_once(nats_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    scenario, uses = example_files(example_dir("datahall"))
    role = _role(nats_server.url, url, scenario=str(scenario), uses=[str(u) for u in uses], batch_size=5)
    task = asyncio.create_task(role.run())
    client = await nats.connect(nats_server.url)
    records = _records()
    try:
        await _wait(lambda: role.sub is not None, "the subscription")
        for _ in range(2):  # the second round is a replay of the same samples
            for record in records:
                await client.publish("karez.graph_data.tiro_preprocess", json.dumps(record).encode())
        await client.publish("karez.graph_data.tiro_preprocess", json.dumps(records[:3]).encode())  # a batch message
        await client.flush()
        await _wait(lambda: role.written == 2 * len(records) + 3, "all records written")
    finally:
        await client.close()
        await _stop(role, task)
    history, latest = _stored(url)
    assert set(history) == set(latest) == {_path(r) for r in records}
    for record in records:
        assert history[_path(record)] == [(pytest.approx(T0), record["value"])]
        assert latest[_path(record)].value == record["value"] and latest[_path(record)].unit == record.get("unit")


async def test_a_partial_batch_is_written_after_the_flush_interval(nats_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    role = _role(nats_server.url, url, batch_size=10_000, flush_interval=0.05)
    task = asyncio.create_task(role.run())
    client = await nats.connect(nats_server.url)
    records = _records()[:4]
    try:
        await _wait(lambda: role.sub is not None, "the subscription")
        for record in records:
            await client.publish("karez.graph_data.x", json.dumps(record).encode())
        await client.flush()
        await _wait(lambda: role.written == len(records), "the timed flush")  # far below batch_size
        assert role._buffer == []
    finally:
        await client.close()
        await _stop(role, task)


async def test_drain_writes_what_is_still_buffered(nats_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    role = _role(nats_server.url, url, batch_size=10_000, flush_interval=3600)
    task = asyncio.create_task(role.run())
    client = await nats.connect(nats_server.url)
    records = _records()
    try:
        await _wait(lambda: role.sub is not None, "the subscription")
        for record in records:
            await client.publish("karez.graph_data.x", json.dumps(record).encode())
        await client.publish("karez.graph_data.x", json.dumps({"not": "a record"}).encode())
        await client.flush()
        await _wait(lambda: role.stats.received == len(records) + 1, "all messages received")
        assert role.written == 0
    finally:
        await client.close()
        await _stop(role, task)
    assert role.written == len(records) and role.stats.dropped == 1
    history, _ = _stored(url)
    assert len(history) == len(records)


async def test_durable_mode_writes_before_ack_and_dead_letters_a_message_the_store_refuses(nats_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    role = _role(nats_server.url, url, batch_size=10_000, flush_interval=0.2, max_deliver=2)
    role.delivery = DurableLink()
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    stream, subject, _ = stream_for(role)
    await ensure_stream(js, stream, subject)
    dead: list[dict] = []

    async def on_dead(msg) -> None:
        dead.append(json.loads(msg.data))

    await client.subscribe("karez.dlq.>", cb=on_dead)
    task = asyncio.create_task(role.run())
    records = _records()
    bad = {**records[0], "asset_path": "DataHall"}  # not Type.id pairs: the store rejects it
    try:
        await js.publish("karez.graph_data.x", json.dumps(records).encode())
        await js.publish("karez.graph_data.x", json.dumps(bad).encode())
        await _wait(lambda: role.written == len(records) and dead, "the write and the dead letter")
        # nothing waits in a buffer: in durable mode the write happened before the ack
        assert role._buffer == []
        history, _ = _stored(url)
        assert len(history) == len(records)
        # a record the store refuses is a data error: dead-lettered at its first delivery, with the reason
        assert "malformed asset path" in dead[0]["error"] and dead[0]["deliveries"] == 1
        # both messages end acked: the good one after its write, the bad one when dead-lettered
        await _all_acked(js, stream)
    finally:
        await client.close()
        await _stop(role, task)


async def test_durable_mode_writes_the_messages_of_a_fetch_together_and_acks_each_after_the_write(
    nats_server, tmp_path
):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    role = _role(nats_server.url, url, batch_size=10_000, flush_interval=0.5)
    role.delivery = DurableLink()
    writes: list[int] = []
    write = role.write

    async def counted(items):
        writes.append(len(items))
        return await write(items)

    role.write = counted  # type: ignore[method-assign]
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    stream, subject, _ = stream_for(role)
    await ensure_stream(js, stream, subject)
    rounds = [_records(ts=T0 + i) for i in range(3)]
    for records in rounds:  # waiting before the role starts: fetched (and gathered) together
        await js.publish("karez.graph_data.x", json.dumps(records).encode())
    task = asyncio.create_task(role.run())
    try:
        await _wait(lambda: role.written == 3 * len(rounds[0]), "the three messages written")
        assert writes == [3 * len(rounds[0])]  # one write of all three
        await _all_acked(js, stream)
    finally:
        await client.close()
        await _stop(role, task)
    history, _ = _stored(url)
    assert sorted(len(samples) for samples in history.values()) == [3] * len(rounds[0])  # every series, 3 samples


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="unsupported scheme"):
        _role(None, "ftp://x")
    with pytest.raises(ValueError, match="has no graph store"):
        _role(None, "influx+http://localhost:8086", targets="graph")
    role = _role(None, "sqlite://", targets="telemetry")
    assert role.targets == ("telemetry",)
    assert _role(None, "influx+http://localhost:8086").targets == ("telemetry",)
    assert _role(None, "arango+http://localhost:8529").targets == ("graph",)


async def test_bad_records_in_a_buffered_batch_are_dropped_alone_and_the_rest_is_written(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    role = _role(None, url, targets="telemetry", batch_size=10_000)
    role.open_stores()
    records = _records()
    bad = [
        {**records[3], "asset_path": "DataHall"},  # not Type.id pairs
        {**records[5], "timestamp": "yesterday"},
        {**records[7], "timestamp": float("inf")},
    ]
    batch = [*records[:10], bad[0], *records[10:20], bad[1], bad[2], *records[20:], {"not": "a record"}]
    try:
        await role.handle_items(batch, "karez.graph_data.x")
        await role.flush_writes()
    finally:
        await role.close()
    assert role.stats.dropped == 4 and role.written == len(records) and role._buffer == []
    history, _ = _stored(url)
    assert {path: [v for _, v in samples] for path, samples in history.items()} == {
        _path(r): [r["value"]] for r in records
    }


async def test_durable_mode_drops_items_that_are_not_records_and_writes_the_rest_before_returning(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    role = _role(None, url, targets="telemetry")
    role.delivery = DurableLink()  # not started: handle_items is what the durable consumer calls per message
    role.open_stores()
    records = _records()
    try:
        await role.handle_items([*records[:5], "junk", [1, 2], {"asset_path": "x"}, *records[5:]], "karez.graph_data.x")
        assert role.written == len(records) and role.stats.dropped == 3
        # a record the store refuses fails the message with a data error: it is dead-lettered, not redelivered
        with pytest.raises(DataError, match="malformed asset path"):
            await role.handle_items([{**records[0], "asset_path": "DataHall"}], "karez.graph_data.x")
    finally:
        await role.close()
    history, _ = _stored(url)
    assert set(history) == {_path(r) for r in records}


async def test_a_sqlite_url_writes_each_sample_once_and_the_graph_reads_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    scenario, uses = example_files(example_dir("datahall"))
    role = _role(None, url, scenario=str(scenario), uses=[str(u) for u in uses], batch_size=10_000)
    stores = role.open_stores()
    assert stores.graph.telemetry is stores.telemetry  # one file, one database: the graph is linked
    records, later = _records(), _records(seed=5, ts=T0 + 1)
    try:
        for batch in (records, later):
            await role.handle_items(batch, "karez.graph_data.x")
            await role.flush_writes()
    finally:
        await role.close()
    with sqlite3.connect(tmp_path / "tiro.db") as conn:
        tables = ("telemetry_samples", "graph_values")
        counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]
    assert counts == [len(records) + len(later), 0]
    history, latest = _stored(url)
    assert {path: sample.value for path, sample in latest.items()} == {_path(r): r["value"] for r in records + later}
    assert set(history) == set(latest)


async def test_sqlite_writes_run_on_the_loop_thread(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    role = _role(None, url)
    stores = role.open_stores()
    threads = []
    write = stores.write
    monkeypatch.setattr(stores, "write", lambda records: threads.append(threading.get_ident()) or write(records))
    records = _records()
    try:
        await role.write(records)
    finally:
        await role.close()
    assert threads == [threading.get_ident()]
    history, latest = _stored(url)
    assert set(history) == set(latest) == {_path(r) for r in records}


async def test_a_write_waiting_for_another_writers_lock_moves_off_the_loop_and_succeeds(tmp_path, loop_ticks):
    path = tmp_path / "tiro.db"
    url = f"sqlite:///{path}"
    role = _role(None, url)
    role.open_stores()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process's write transaction holds the file's write lock
    records = _records()
    try:
        loop_ticks.longest_gap = 0.0  # from here on
        write = asyncio.create_task(role.write(records))
        await asyncio.sleep(1.0)  # the write tries on the loop, gives up after 50 ms and waits in a thread
        assert not write.done()
        blocker.execute("COMMIT")
        written = await write
        # waiting for the lock never held the loop (sqlite would wait up to 30 s): the bound allows a slow machine
        assert loop_ticks.longest_gap < 0.9
    finally:
        blocker.close()
        await role.close()
    assert written == len(records)
    history, latest = _stored(url)
    assert set(history) == set(latest) == {_path(r) for r in records}

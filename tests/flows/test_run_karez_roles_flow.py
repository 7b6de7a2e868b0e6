"""run_karez_roles: durable roles drained on cancellation lose no message; a crashed role emits an event."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import orjson
import pytest
import yaml
from nats.js.errors import NotFoundError
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker

from tiro_prefect.flows.roles import RESTART_EVENT, run_karez_roles

PLUGINS = str(Path(__file__).parent / "plugins")
COUNT = 2000  # ~6 s of converter work, so a cancellation always lands mid-stream even on a busy machine


@pytest.fixture
def captured_events(monkeypatch):
    """Prefect's own AssertingEventsClient receives the events emitted meanwhile."""
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    yield worker
    worker.drain()


def _config(tmp_path: Path, roles: dict) -> str:
    path = tmp_path / "karez.yaml"
    path.write_text(yaml.safe_dump(roles))
    return str(path)


async def _stream_ready(js, name: str) -> None:
    """Wait until the roles have created their durable stream (they start asynchronously in the flow)."""
    while True:
        try:
            await js.stream_info(name)
            return
        except NotFoundError:
            await asyncio.sleep(0.05)


def _received(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


async def test_cancelling_durable_roles_loses_no_message(nats_server, tmp_path):
    out = tmp_path / "received.txt"
    config = _config(
        tmp_path,
        {
            "converters": [{"type": "busy"}],
            "aggregators": [{"type": "append_file", "category": "numbers", "path": str(out)}],
        },
    )
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    run = asyncio.create_task(run_karez_roles([config], PLUGINS, nats_server.url, durable=True))
    await asyncio.wait_for(_stream_ready(js, "KAREZ_CONVERTER_busy"), timeout=60)
    # all sent at once: the roles share this event loop, and publishing one by one (each awaiting its ack between the
    # converter's blocking batches) let them process nearly everything before the last message was even sent
    await asyncio.gather(*(js.publish("karez.converter.busy", orjson.dumps({"n": n})) for n in range(COUNT)))
    while not _received(out):  # cancel as soon as work flows, while nearly all of it is still queued
        await asyncio.sleep(0.02)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    after_cancel = set(_received(out))
    assert len(after_cancel) < COUNT, "the cancellation came too late to test anything"
    # Nothing is lost: what was not persisted is still held by JetStream (queued, or delivered and not acked).
    assert len(after_cancel) + await _held(js) >= COUNT

    # A new run of the same roles takes up what was left queued; in the end every message arrived.
    for _ in range(12):  # ~6 s of work left: generous for a loaded machine; stops once everything arrived
        await run_karez_roles([config], PLUGINS, nats_server.url, duration=4, durable=True)
        if set(_received(out)) == set(range(COUNT)):
            break
    assert set(_received(out)) == set(range(COUNT))
    await nc.close()


DURABLE_CONSUMERS = (("KAREZ_CONVERTER_busy", "converter_busy"), ("KAREZ_CATEGORY_numbers", "aggregator_numbers"))


async def _held(js) -> int:
    """Messages JetStream still holds for the roles: queued plus delivered-but-unacknowledged."""
    held = 0
    for stream, name in DURABLE_CONSUMERS:
        info = await js.consumer_info(stream, name)
        held += info.num_pending + info.num_ack_pending
    return held


async def test_a_crashed_role_is_restarted_and_reported(nats_server, tmp_path, captured_events):
    config = _config(tmp_path, {"converters": [{"type": "crash_once"}]})
    stats = await run_karez_roles([config], PLUGINS, nats_server.url, duration=2.5, durable=False)
    assert stats[0]["restarts"] == 1 and stats[0]["name"] == "crash_once"
    captured_events.drain()
    events = [e for e in AssertingEventsClient.last.events if e.event == RESTART_EVENT]
    assert len(events) == 1
    assert events[0].resource.id == "tiro.karez.converter.crash_once"
    assert events[0].payload["restarts"] == 1


async def test_bad_config_names_the_file(nats_server, tmp_path):
    config = _config(tmp_path, {"converters": [{"type": "no_such_plugin"}]})
    with pytest.raises(Exception, match="no_such_plugin"):
        await run_karez_roles([config], PLUGINS, nats_server.url, duration=1)

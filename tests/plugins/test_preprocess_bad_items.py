"""tiro_preprocess with bad items: each is named and dropped alone; a message of only bad items is dead-lettered."""

from __future__ import annotations

import asyncio
import json
import logging

import nats
import pytest

from karez.delivery import delivery_for
from karez.durable import DurableLink, ensure_stream, stream_for
from karez.errors import is_data_error, is_retryable
from tiro.plugins.karez import TiroPreprocessConverter
from tiro.plugins.karez.preprocess import ItemDataError

FLOW = "DataHall.data_hall_0.Rack.rack_0.Server.server_0.Telemetry.FlowRate"
TS = "2022-09-27T04:11:22+00:00"


def _good(value: float) -> dict:
    return {"path": FLOW, "result": {"value": value, "timestamp": TS}, "_karez": {"category": "telemetry"}}


BAD = [
    {"path": 42, "result": ["wrong", "shape"]},
    {"path": None, "result": {"value": 1}},
    {"result": {"value": 1}},
    {"path": FLOW},
    {"path": FLOW, "result": {"value": 1, "timestamp": "not a time at all"}},
]


def _converter(durable: bool) -> TiroPreprocessConverter:
    converter = TiroPreprocessConverter({"type": "tiro_preprocess", "name": "pre"}, nats_addr=None)
    converter.delivery = delivery_for(listens=True, durable=durable)  # not started: handle_items is what it calls
    return converter


@pytest.mark.parametrize("durable", [False, True])
async def test_bad_items_are_named_and_dropped_and_the_valid_rest_goes_on(durable, caplog):
    converter = _converter(durable)
    for _ in range(2):  # the second round runs on remembered tags
        with caplog.at_level(logging.ERROR, logger="karez"):
            out = await converter.handle_items([_good(1.0), *BAD, _good(2.0)], "karez.converter.pre")
        assert [payload["value"] for _, payload in out] == [1.0, 2.0]
    assert converter.stats.errors == 2 * len(BAD)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "path 42" in text and "int 'path', not a string" in text and "no 'result'" in text
    assert "AttributeError" not in text  # a clear data error, not an accident of the code


async def test_a_message_of_only_bad_items_is_a_data_error_in_durable_mode_and_logged_in_core_mode():
    with pytest.raises(
        ItemDataError, match=r"none of the 1 items on karez\.converter\.pre can be converted: path 42: .*int 'path'"
    ) as raised:
        await _converter(True).handle_items([BAD[0]], "karez.converter.pre")
    assert is_data_error(raised.value) and not is_retryable(raised.value)
    core = _converter(False)
    assert await core.handle_items([BAD[0], "junk"], "karez.converter.pre") == []
    assert (core.stats.errors, core.stats.dropped) == (1, 1)
    with pytest.raises(ItemDataError, match="item has a int 'path'"):
        list(core.convert(BAD[0]))  # the per-item hook (`karez test`, subclasses) says the same


async def test_durable_poison_is_dead_lettered_with_its_path_and_a_mixed_message_flows(nats_server):
    converter = TiroPreprocessConverter(
        {"type": "tiro_preprocess", "name": "pre", "batch": True, "max_deliver": 1}, nats_addr=nats_server.url
    )
    converter.delivery = DurableLink()
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    stream, subject, _ = stream_for(converter)
    await ensure_stream(js, stream, subject)
    out: list[dict] = []
    dead: list[dict] = []

    async def on_out(msg) -> None:
        out.extend(json.loads(msg.data))

    async def on_dead(msg) -> None:
        dead.append(json.loads(msg.data))

    await client.subscribe("karez.telemetry.pre", cb=on_out)
    await client.subscribe("karez.dlq.>", cb=on_dead)
    role = asyncio.create_task(converter.run())
    try:
        await js.publish(subject, json.dumps([BAD[0]]).encode())
        await js.publish(subject, json.dumps([_good(1.0), BAD[0], _good(2.0)]).encode())
        deadline = asyncio.get_running_loop().time() + 60  # only stops a hung test
        while not (dead and len(out) == 2) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert [r["value"] for r in out] == [1.0, 2.0]
        (letter,) = dead
        assert letter["subject"] == subject and "ItemDataError" in letter["error"] and "path 42" in letter["error"]
    finally:
        await client.close()
        role.cancel()
        await asyncio.gather(role, return_exceptions=True)
        await converter.drain()
        await converter.close()

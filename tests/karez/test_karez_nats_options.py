"""NATS address resolution, connection options and the embedded server's auth."""

from __future__ import annotations

import threading

import nats
import pytest

from karez.aggregator.base import AggregatorBase
from karez.embedded_nats import EmbeddedNats
from karez.nats_options import NatsOptions, resolve_address, split_servers


def test_address_precedence():
    assert resolve_address("nats://a:1", {"KAREZ_NATS_ADDR": "nats://b:2"}) == "nats://a:1"
    assert resolve_address(None, {"KAREZ_NATS_ADDR": "nats://b:2", "NATS_URL": "nats://c:3"}) == "nats://b:2"
    assert resolve_address(None, {"NATS_URL": "nats://c:3"}) == "nats://c:3"
    assert resolve_address(None, {}) == "nats://localhost:4222"


def test_server_lists_and_connect_options():
    assert split_servers("nats://a:1, b:2,") == ["nats://a:1", "nats://b:2"]
    kwargs = NatsOptions.from_address("a:1,b:2", user="u", password="p").connect_kwargs()
    assert kwargs["servers"] == ["nats://a:1", "nats://b:2"]
    assert kwargs["max_reconnect_attempts"] == -1  # reconnect forever
    assert (kwargs["user"], kwargs["password"]) == ("u", "p")


async def test_embedded_server_with_token_rejects_anonymous_clients():
    async with EmbeddedNats(token="s3cret") as server:
        assert "s3cret@" in server.url
        nc = await nats.connect(server.url)
        await nc.close()
        with pytest.raises(Exception):  # noqa: B017 - nats-py raises a library-specific auth error
            await nats.connect(server.url.replace("s3cret@", ""), max_reconnect_attempts=0, allow_reconnect=False)


class Blocking(AggregatorBase):
    def process(self, payload):
        self.__dict__.setdefault("threads", []).append(threading.current_thread().name)


async def test_offloaded_sync_aggregator_runs_in_a_worker_thread():
    agg = Blocking({"type": "b", "category": "c", "offload": True}, nats_addr=None)
    await agg.handle_items([{"a": 1}], "karez.c.x")
    assert agg.threads and agg.threads[0] != threading.main_thread().name
    inline = Blocking({"type": "b", "category": "c"}, nats_addr=None)
    await inline.handle_items([{"a": 1}], "karez.c.x")
    assert inline.threads == [threading.main_thread().name]

"""The one failure policy of the storing aggregators (`BatchingAggregator`), against a writer that fails on cue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from karez.delivery import delivery_for
from karez.errors import DataError, RetryableError
from tiro.plugins.karez.batching import BatchingAggregator, is_refusal
from tiro_models.errors import SnapshotError


class _Unreachable(RetryableError):
    pass


class _Recorder(BatchingAggregator):
    """Writes ints; refuses negative ones (a data error); fails as a whole while `down` is set."""

    def __init__(self, **config: Any) -> None:
        super().__init__({"type": "recorder", "name": "r", "category": "c", **config}, nats_addr=None)
        self.stored: list[int] = []
        self.attempts = 0
        self.down = False

    async def write(self, items: list[Any]) -> int:
        self.attempts += 1
        await asyncio.sleep(0)
        if self.down:
            raise _Unreachable("store unreachable")
        bad = [i for i in items if i < 0]
        if bad:
            raise SnapshotError(f"refused {bad[0]}")
        self.stored += items
        return len(items)


def test_what_counts_as_a_refusal():
    assert is_refusal(DataError("x")) and is_refusal(SnapshotError("x")) and is_refusal(ValueError("x"))
    assert not is_refusal(_Unreachable("x")) and not is_refusal(OSError("x")) and not is_refusal(RuntimeError("x"))


async def test_core_mode_isolates_refused_items_writes_the_rest_and_counts_the_drops():
    role = _Recorder(batch_size=1000)
    items = [*range(100), -1, *range(100, 200), -2, -3, *range(200, 300)]
    await role.handle_items(items, "karez.c.x")
    await role.flush_writes()
    await role.close()
    assert sorted(role.stored) == list(range(300))  # each good item once
    assert (role.stats.dropped, role.items_failed, role.items_written) == (3, 3, 300)
    assert role.attempts < 40  # halving: about 2·log2(n) writes per bad item, not one write per item


async def test_core_mode_keeps_an_unwritten_batch_and_retries_it_until_the_store_is_back():
    role = _Recorder(batch_size=10, max_pending=1)
    role.down = True
    await role.start_writer()
    await role.handle_items(list(range(10)), "karez.c.x")  # handed to the writer, whose writes now fail
    await role.handle_items(list(range(10, 20)), "karez.c.x")  # waits in the one pending slot
    blocked = asyncio.create_task(role.handle_items(list(range(20, 30)), "karez.c.x"))
    while role.attempts < 2:  # the first write and its first retry failed
        await asyncio.sleep(0.05)
    assert not blocked.done() and role.stored == []  # back-pressure while the store is down: nothing dropped
    role.down = False
    await blocked
    await role.flush_writes()
    await role.close()
    assert role.stored == list(range(30)) and role.items_failed == 0 and role.stats.dropped == 0


async def test_a_role_shutting_down_with_its_store_down_drops_once_and_says_how_much(caplog):
    role = _Recorder(batch_size=1000)
    role.down = True
    await role.start_writer()
    await role.handle_items(list(range(25)), "karez.c.x")
    await role.drain()  # one more attempt, then the units are given up (core mode has no redelivery)
    await role.close()
    assert role.items_failed == 25 and role.stored == []
    assert any("Dropped 25 unwritten units at shutdown" in r.getMessage() for r in caplog.records)


async def test_durable_mode_writes_the_good_items_then_fails_the_message_with_a_data_error():
    role = _Recorder()
    role.delivery = delivery_for(listens=True, durable=True)
    await role.handle_items([1, 2, 3], "karez.c.x")
    assert role.stored == [1, 2, 3] and role._buffer == []  # written before the return (the ack follows it)
    with pytest.raises(DataError, match=r"refused 1 of 4 items \(the others are written\): SnapshotError: refused -9"):
        await role.handle_items([4, -9, 5, 6], "karez.c.x")
    assert sorted(role.stored) == [1, 2, 3, 4, 5, 6]
    role.down = True
    with pytest.raises(_Unreachable):  # not a data error: the message is redelivered, never dead-lettered
        await role.handle_items([7], "karez.c.x")
    await role.close()


async def _held_messages(role: _Recorder, messages: list[list[int]]) -> list[asyncio.Future]:
    """Hand messages over as a durable link does (their writes deferred), then end the batch; each one's future."""
    futures: list[asyncio.Future] = []
    for items in messages:
        role.deferred = futures
        await role.handle_items(items, "karez.c.x")
        role.deferred = None
    await role.end_of_batch()
    return futures


async def test_durable_mode_writes_the_messages_of_a_batch_together_and_a_refused_one_alone():
    role = _Recorder(batch_size=100)
    role.delivery = delivery_for(listens=True, durable=True)
    futures = await _held_messages(role, [[1, 2], [3, 4]])
    assert role.attempts == 1 and sorted(role.stored) == [1, 2, 3, 4]  # one write of both
    assert [f.result() for f in futures] == [None, None]
    role.attempts = 0
    futures = await _held_messages(role, [[5], [-6, 7], [8]])
    assert [f.exception() is None for f in futures] == [True, False, True]
    assert isinstance(futures[1].exception(), DataError)  # dead-lettered by the link; the others are acked
    assert {5, 7, 8} <= set(role.stored)
    await role.close()


async def test_durable_mode_fails_every_held_message_at_once_while_the_store_is_down():
    role = _Recorder(batch_size=100)
    role.delivery = delivery_for(listens=True, durable=True)
    role.down = True
    futures = await _held_messages(role, [[1], [2], [3]])
    assert role.attempts == 1  # the joint write only: no attempt per message against a store that is down
    assert all(isinstance(f.exception(), _Unreachable) for f in futures)  # redelivered, never dead-lettered
    assert role.stored == []
    await role.close()

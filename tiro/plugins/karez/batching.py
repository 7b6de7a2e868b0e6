"""`BatchingAggregator`: the one batching base of the storing aggregators (`tiro_store`, `influx_writer`, `arango_db`)
and their one failure policy.

Items are buffered and handed to a writer task in batches of `batch_size` units, or after `flush_interval` seconds;
at most `max_pending` batches wait for the writer, beyond that receiving waits too (back-pressure, not memory).
In durable mode a message is acked only after it is written: the messages a durable link fetched together are
written together (one transaction, one request), and while they make less than `batch_size` units the link waits up
to `flush_interval` for more; each message's ack awaits that write.

When a write fails, what happens depends only on what the failure means:
- a data error (`karez.errors.DataError`, or a `TiroError`/`TypeError`/`ValueError` a store raises for a record it
  cannot take): the batch is split in halves until each refused item stands alone, so the rest is written in about
  2·log2(n) writes per bad item. In core mode a refused item is dropped, counted and logged; in durable mode the
  message is dead-lettered (with its input and the first refusal) after its good items are written.
- anything else (an unreachable store, a timeout): nothing is dropped. In core mode the writer retries the unwritten
  part with backoff while new batches wait; only a role that is shutting down gives up (and says how much it drops).
  In durable mode the error propagates: the message is not acked and JetStream delivers it again.
Every store is idempotent (one sample per series and timestamp), so a retried or redelivered write does no harm.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from karez.aggregator.base import AggregatorBase
from karez.config import ConfigEntity, OptionalConfigEntity
from karez.errors import DataError, is_data_error
from tiro_models.errors import TiroError

__all__ = ["BatchingAggregator", "is_refusal"]

# what a store raises for a record it cannot take (as opposed to being unreachable): retrying will not help
_RECORD_ERRORS = (TiroError, TypeError, ValueError)
_RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def is_refusal(error: BaseException) -> bool:
    """True when a store refused the data itself, so writing the same items again cannot succeed."""
    return is_data_error(error) or isinstance(error, _RECORD_ERRORS)


@dataclass(slots=True)
class _Outcome:
    """What one attempt at a batch achieved: units written, items refused (with the first reason), what is left."""

    written: int = 0
    refused: list[Any] = field(default_factory=list)
    first_refusal: BaseException | None = None
    error: BaseException | None = None  # the failure that stopped the attempt (not a refusal)
    unwritten: list[Any] = field(default_factory=list)


class BatchingAggregator(AggregatorBase):
    """Buffers accepted items and writes them in batches, with one failure policy (see the module's docstring)."""

    BATCH_SIZE = 5000  # the defaults of `batch_size` and `flush_interval`; a store with other needs overrides them
    FLUSH_INTERVAL = 1.0

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Batch size, flush interval and the back-pressure bound."""
        yield from super().config_entities()
        yield OptionalConfigEntity("batch_size", cls.BATCH_SIZE, "Units (lines, records) per write request")
        yield OptionalConfigEntity(
            "flush_interval", cls.FLUSH_INTERVAL, "Seconds a partial batch may wait before it is written"
        )
        yield OptionalConfigEntity("max_pending", 4, "Full batches waiting for the writer before receiving waits")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_size = max(1, int(self.config.batch_size))
        self.flush_interval = float(self.config.flush_interval)
        self.items_written = 0  # units written
        self.items_failed = 0  # units refused by the store, or given up at shutdown (core mode)
        self._buffer: list[Any] = []
        self._buffered = 0
        self._buffered_since = 0.0
        self._queue: asyncio.Queue[list[Any]] = asyncio.Queue(maxsize=max(1, int(self.config.max_pending)))
        self._held: list[tuple[list[Any], asyncio.Future[None]]] = []  # durable mode: messages' items to write together
        self._held_units = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # ----- what subclasses provide -----
    def accept(self, payload: Any) -> Any | None:
        """The item to buffer for one received item, or None to drop it (after counting and logging why)."""
        return payload

    def accept_items(self, items: list[Any]) -> tuple[list[Any], int]:
        """The items of one message worth writing and how many units they make (default: `accept` each item)."""
        kept = [item for item in map(self.accept, items) if item is not None]
        return kept, sum(map(self.units_of, kept))

    def units_of(self, item: Any) -> int:
        """How many units (lines, records) one accepted item counts for."""
        return 1

    def screen(self, items: list[Any]) -> list[Any]:
        """After a failed write: the items worth another attempt (for subclasses whose `accept_items` checks
        nothing up front, to keep that cost off the path where every write succeeds)."""
        return items

    def parts_of(self, item: Any) -> list[Any]:
        """A refused item as the smaller items it holds, written on their own to find the refused ones (a frame's
        rows); `[item]` when it holds no others."""
        return [item]

    def write_batch(self, items: list[Any]) -> int:
        """Write items (blocking; runs in a worker thread) and return how many units were written."""
        raise NotImplementedError

    async def write(self, items: list[Any]) -> int:
        """Write items and return the units written (default: `write_batch` in a worker thread)."""
        return await asyncio.to_thread(self.write_batch, items)

    async def prepare(self) -> None:
        """Once before subscribing (e.g. bootstrap the store)."""

    def close_store(self) -> None:
        """Release the store's connections (subclasses with a store override this)."""

    # ----- receiving -----
    async def start(self) -> None:
        """Prepare, start the writer and the flush timer, then subscribe."""
        await self.prepare()
        await self.start_writer()
        await super().start()

    async def start_writer(self) -> None:
        """Start the writer task and the flush timer (once)."""
        if not self._tasks:
            self._stopping = False
            self._tasks = [
                asyncio.create_task(self._write_batches(), name=f"{self._log_name}:writer"),
                asyncio.create_task(self._flush_on_time(), name=f"{self._log_name}:timer"),
            ]

    async def handle_items(self, items: list[Any], subject: str) -> list[tuple[str, Any]]:
        """Buffer a message's items; in durable mode write them before returning (a failure raises: no ack)."""
        kept, units = self.accept_items(items)
        if not kept:
            return []
        if self.delivery.redelivers:
            if self.deferred is None:  # not handed over by a durable link (a test, a tool): written now
                await self._write_message(kept)
            else:
                await self._hold(kept, units, self.deferred)
            return []
        if not self._buffer:
            self._buffered_since = time.monotonic()
        self._buffer += kept
        self._buffered += units
        if self._buffered >= self.batch_size:
            await self._hand_off()
        return []

    def linger_s(self) -> float:
        """Durable mode: while the messages held make less than a batch, the link may wait `flush_interval` for
        more, so that they are written together."""
        return self.flush_interval if self._held and self._held_units < self.batch_size else 0.0

    async def end_of_batch(self) -> None:
        """Durable mode: write the messages held, together."""
        await self._write_held()

    async def process(self, payload: Any) -> None:
        """One item (the per-item hook; `handle_items` takes a whole message)."""
        await self.handle_items([payload], "")

    # ----- writing -----
    async def _hold(self, kept: list[Any], units: int, deferred: list[asyncio.Future[Any]]) -> None:
        """Durable mode: keep a message's items for one write with the next messages'; its ack awaits the future
        this adds to `deferred`. A full batch is written at once."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._held.append((kept, future))
        self._held_units += units
        deferred.append(future)
        if self._held_units >= self.batch_size:
            await self._write_held()

    async def _write_held(self) -> None:
        """Durable mode: the messages held in one write. When the store refused data, each message is written on its
        own, so that each gets its own outcome (the stores are idempotent, so what the joint write stored does no
        harm); when the store failed otherwise (unreachable), every message fails with that error and is delivered
        again, as a lone message would be, without one more attempt each."""
        held, self._held, self._held_units = self._held, [], 0
        if len(held) > 1:
            try:
                written = await self.write([item for kept, _ in held for item in kept])
            except Exception as e:
                if not is_refusal(e):
                    for _, future in held:
                        future.set_exception(e)
                    return
            else:
                self.items_written += written
                for _, future in held:
                    future.set_result(None)
                return
        for kept, future in held:
            try:
                await self._write_message(kept)
            except Exception as e:
                future.set_exception(e)
            else:
                future.set_result(None)

    async def _write_message(self, items: list[Any]) -> None:
        """Durable mode: write one message's items now; raise what decides its fate (redelivery or dead letter)."""
        outcome = await self._attempt(items)
        if outcome.error is not None:
            raise outcome.error
        if outcome.refused:
            first = outcome.first_refusal
            refused, total = sum(map(self.units_of, outcome.refused)), sum(map(self.units_of, items))
            which = f"all {total} items" if refused == total else f"{refused} of {total} items (the others are written)"
            raise DataError(f"the store refused {which}: {type(first).__name__}: {first}")

    async def _attempt(self, batch: list[Any]) -> _Outcome:
        """Write a batch, isolating refused items by halving; stop at the first failure that is not a refusal."""
        outcome = _Outcome()
        try:
            outcome.written = await self.write(batch)
            self.items_written += outcome.written
            return outcome
        except Exception as e:
            first: Exception = e
        screened = self.screen(batch)  # items that are not what the store takes may be why it failed
        if len(screened) < len(batch):
            pending = [screened]
        elif is_refusal(first) and len(batch) == 1 and len(parts := self.parts_of(batch[0])) > 1:
            pending = _halves(parts)
        elif is_refusal(first) and len(batch) == 1:
            outcome.refused, outcome.first_refusal = batch, first
            pending = []
        elif is_refusal(first):
            pending = _halves(batch)
        else:
            outcome.error, outcome.unwritten = first, batch
            return outcome
        while pending:
            part = pending.pop()
            if not part:
                continue
            try:
                written = await self.write(part)
            except Exception as e:
                if not is_refusal(e):
                    outcome.error = e
                    outcome.unwritten = [item for chunk in (part, *reversed(pending)) for item in chunk]
                    return outcome
                if len(part) == 1 and len(parts := self.parts_of(part[0])) > 1:
                    pending += _halves(parts)
                elif len(part) == 1:
                    outcome.refused += part
                    if outcome.first_refusal is None:
                        outcome.first_refusal = e
                else:
                    pending += _halves(part)
                continue
            outcome.written += written
            self.items_written += written
        return outcome

    async def _write_batches(self) -> None:
        while True:
            batch = await self._queue.get()
            try:
                await self._write_until_done(batch)
            finally:
                self._queue.task_done()

    async def _write_until_done(self, batch: list[Any]) -> None:
        """Core mode: drop what the store refuses, retry the rest with backoff until written (or shutting down)."""
        for attempt in itertools.count():
            outcome = await self._attempt(batch)
            for item in outcome.refused:
                self.stats.dropped += 1
                self.stats.errors += 1
                self.items_failed += self.units_of(item)
            if outcome.refused:
                reason = outcome.first_refusal
                self.log(
                    "error",
                    f"Dropped {len(outcome.refused)} item(s) the store refuses: {type(reason).__name__}: {reason}",
                )
            if outcome.error is None:
                return
            batch = outcome.unwritten
            units = sum(map(self.units_of, batch))
            error = f"{type(outcome.error).__name__}: {outcome.error}"
            if self._stopping:
                self.items_failed += units
                self.stats.errors += 1
                self.log("error", f"Dropped {units} unwritten units at shutdown: {error}")
                return
            delay = _RETRY_DELAYS_S[min(attempt, len(_RETRY_DELAYS_S) - 1)]
            self.log("warning", f"Writing {units} units failed ({error}); retrying in {delay:g} s")
            await asyncio.sleep(delay)

    async def _hand_off(self) -> None:
        """Queue the buffer for the writer; waits while `max_pending` batches are queued (back-pressure)."""
        if not self._buffer:
            return
        batch = self._buffer
        self._buffer, self._buffered = [], 0
        if not self._tasks:  # a role fed without start() (a test, a benchmark) still gets its batches written
            await self.start_writer()
        await self._queue.put(batch)

    async def _flush_on_time(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval / 4)
            if self._buffer and time.monotonic() - self._buffered_since >= self.flush_interval:
                await self._hand_off()

    async def flush_writes(self) -> None:
        """Write everything buffered or queued, and wait until it is written (or dropped)."""
        await self._hand_off()
        await self._queue.join()

    # ----- stopping -----
    async def drain(self) -> None:
        """Stop receiving, then write what was received (a store still failing gets one more attempt per batch)."""
        await super().drain()
        self._stopping = True
        if self._tasks:
            await self.flush_writes()

    async def close(self) -> None:
        """Write what is left, stop the writer and the timer, release the store, close the NATS connection."""
        self._stopping = True
        if self._tasks and (self._buffer or not self._queue.empty()):
            await self.flush_writes()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.close_store()
        await super().close()


def _halves(items: list[Any]) -> list[list[Any]]:
    """The two halves of a batch, in the order `pop()` takes them: the first half is written first."""
    middle = len(items) // 2
    return [items[middle:], items[:middle]]

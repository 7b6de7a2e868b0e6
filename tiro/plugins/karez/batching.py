"""`BatchingAggregator`: the batching, back-pressure and durable-mode rules that the `influx_writer` and `arango_db`
aggregators share (one module of its own, so neither plugin imports the other)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from karez.aggregator.base import AggregatorBase
from karez.config import ConfigEntity, OptionalConfigEntity


class BatchingAggregator(AggregatorBase):
    """Collects items into batches written by a blocking `write_batch` in a worker thread.

    At most `max_pending` full batches wait for the writer; beyond that `process` blocks, so a slow database slows
    the subscription down instead of growing memory. A partial batch is written after `flush_interval` seconds. In
    durable mode each message is written before `process` returns and a failed write raises, so the message is not
    acked and JetStream redelivers it. In core mode a batch that still fails after the store's retries is logged,
    counted in `items_failed` and dropped.
    """

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Batch size, flush interval and the back-pressure bound."""
        yield from super().config_entities()
        yield OptionalConfigEntity("batch_size", 5000, "Items per write request")
        yield OptionalConfigEntity("flush_interval", 1.0, "Seconds a partial batch may wait before it is written")
        yield OptionalConfigEntity("max_pending", 4, "Full batches waiting for the writer before process() blocks")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_size = max(1, int(self.config.batch_size))
        self.flush_interval = float(self.config.flush_interval)
        self.items_written = 0
        self.items_failed = 0
        self._buffer: list[Any] = []
        self._buffered = 0
        self._buffered_since = 0.0
        self._queue: asyncio.Queue[tuple[list[Any], int]] = asyncio.Queue(maxsize=max(1, int(self.config.max_pending)))
        self._tasks: list[asyncio.Task] = []

    # ----- what subclasses provide -----
    def accept(self, payload: Any) -> tuple[Any, int] | None:
        """The item to buffer and how many units it counts for, or None to drop it (after logging why)."""
        raise NotImplementedError

    def write_batch(self, items: list[Any]) -> int:
        """Write items (blocking; runs in a worker thread) and return how many units were written."""
        raise NotImplementedError

    async def prepare(self) -> None:
        """Once before subscribing (e.g. bootstrap the store)."""

    # ----- the machinery -----
    async def start(self) -> None:
        """Prepare, start the writer and the flush timer, then subscribe."""
        await self.prepare()
        await self.start_writer()
        await super().start()

    async def start_writer(self) -> None:
        """Start the writer task and the flush timer (once)."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._write_batches(), name=f"{self._log_name}:writer"),
                asyncio.create_task(self._flush_on_time(), name=f"{self._log_name}:timer"),
            ]

    async def process(self, payload: Any) -> None:
        """Buffer one item; in durable mode write it before returning."""
        accepted = self.accept(payload)
        if accepted is None:
            return
        item, units = accepted
        if self.delivery.redelivers:  # durable: the ack follows this return, so the write must have happened
            self.items_written += await asyncio.to_thread(self.write_batch, [item])
            return
        if not self._buffer:
            self._buffered_since = time.monotonic()
        self._buffer.append(item)
        self._buffered += units
        if self._buffered >= self.batch_size:
            await self._hand_off()

    async def _hand_off(self) -> None:
        """Queue the buffer for the writer; waits while `max_pending` batches are queued (back-pressure)."""
        if not self._buffer:
            return
        batch, units = self._buffer, self._buffered
        self._buffer, self._buffered = [], 0
        await self._queue.put((batch, units))

    async def _write_batches(self) -> None:
        while True:
            batch, units = await self._queue.get()
            try:
                self.items_written += await asyncio.to_thread(self.write_batch, batch)
            except Exception as e:  # core mode: nobody to hand the batch back to, so say so loudly and go on
                self.items_failed += units
                self.stats.errors += 1
                self.log("error", f"Dropped {units} items: {type(e).__name__}: {e}")
            finally:
                self._queue.task_done()

    async def _flush_on_time(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval / 4)
            if self._buffer and time.monotonic() - self._buffered_since >= self.flush_interval:
                await self._hand_off()

    async def flush_writes(self) -> None:
        """Write everything buffered or queued, and wait until it is written (or failed)."""
        await self._hand_off()
        await self._queue.join()

    async def drain(self) -> None:
        """Stop receiving, then write what was received."""
        await super().drain()
        if self._tasks:
            await self.flush_writes()

    async def close(self) -> None:
        """Stop the writer and the timer, release the store, close the NATS connection."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.close_store()
        await super().close()

    def close_store(self) -> None:
        """Release the store's connections (subclasses with a store override this)."""

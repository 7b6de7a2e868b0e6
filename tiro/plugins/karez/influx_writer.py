"""The `influx_writer` aggregator: writes the line protocol on `karez.telemetry.>` to InfluxDB (Telegraf's job).

It gets its own copy of the stream (queue group `influx_writer_<name>`, as Telegraf had `karez_telegraf`), joins
messages into requests of `batch_size` lines, and writes them from a worker thread so the event loop keeps receiving.
Replays are harmless: InfluxDB keeps one point per series and timestamp. `BatchingAggregator` holds the batching,
back-pressure and durable-mode rules shared with the `arango_db` aggregator.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from karez.aggregator.base import AggregatorBase
from karez.config import OptionalConfigEntity
from tiro.stores.influx import InfluxTelemetryStore, count_lines

DEFAULT_URL = "http://localhost:8086"


class BatchingAggregator(AggregatorBase):
    """Collects items into batches written by a blocking `write_batch` in a worker thread.

    At most `max_pending` full batches wait for the writer; beyond that `process` blocks, so a slow database slows
    the subscription down instead of growing memory. A partial batch is written after `flush_interval` seconds. In
    durable mode each message is written before `process` returns and a failed write raises, so the message is not
    acked and JetStream redelivers it. In core mode a batch that still fails after the store's retries is logged,
    counted in `items_failed` and dropped.
    """

    @classmethod
    def config_entities(cls):
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
        if self.raise_errors:  # durable: the ack follows this return, so the write must have happened
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


class InfluxWriterAggregator(BatchingAggregator):
    """Write influx line protocol from Karez to InfluxDB in batches (the Telegraf replacement)."""

    @classmethod
    def config_entities(cls):
        """Server, credentials and retries; category `telemetry`, raw text, its own queue group by default."""
        yield from super().config_entities()
        yield OptionalConfigEntity("category", "telemetry", "Category of the line protocol to write")
        yield OptionalConfigEntity("json", False, "Messages are raw line protocol, not JSON")
        yield OptionalConfigEntity("queue", None, "Queue group (default influx_writer_<name>: its own copy)")
        yield OptionalConfigEntity("url", None, "InfluxDB URL (default $TIRO_INFLUX_URL or http://localhost:8086)")
        yield OptionalConfigEntity("token", None, "API token (default $TIRO_INFLUX_TOKEN or $INFLUX_TOKEN)")
        yield OptionalConfigEntity("org", None, "Organization (default $TIRO_INFLUX_ORG or tiro)")
        yield OptionalConfigEntity("bucket", None, "Bucket (default $TIRO_INFLUX_BUCKET or tiro)")
        yield OptionalConfigEntity("max_retries", 5, "Retries of a request on 429/5xx and connection errors")
        yield OptionalConfigEntity("timeout", 30.0, "Seconds per request")
        yield OptionalConfigEntity("bootstrap", False, "Check org and token and create the bucket at start")
        yield OptionalConfigEntity("retention", 0, "Retention of a bucket created by bootstrap (e.g. 30d; 0 = forever)")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Write influx line protocol to InfluxDB in batches (replaces Telegraf)."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        options = {
            key: c.get(key)
            for key in ("token", "org", "bucket", "max_retries", "timeout", "retention")
            if c.get(key) is not None
        }
        url = c.url or os.environ.get("TIRO_INFLUX_URL") or DEFAULT_URL
        # One store request per hand-off: the aggregator already batches by lines.
        self.store = InfluxTelemetryStore(url, batch_size=self.batch_size, **options)

    @property
    def lines_written(self) -> int:
        """Lines written so far."""
        return self.items_written

    @property
    def lines_failed(self) -> int:
        """Lines dropped after failed writes (core mode)."""
        return self.items_failed

    @property
    def subscribe_queue(self) -> str:
        """Its own queue group, so other aggregators of the category still get every message."""
        return self.config.queue or f"influx_writer_{self.name}"

    async def prepare(self) -> None:
        """Bootstrap the bucket when asked."""
        if self.config.bootstrap:
            report = await asyncio.to_thread(self.store.bootstrap)
            self.log("info", f"bootstrap of {report.store}: created {report.created or 'nothing'}")

    def accept(self, payload: Any) -> tuple[str, int] | None:
        """A message of line protocol (one or many lines), counted in lines."""
        if isinstance(payload, dict) and isinstance(payload.get("_as_is"), str):
            payload = payload["_as_is"]
        if not isinstance(payload, str):
            self.stats.dropped += 1
            self.log("error", f"Dropped a non-text item (set json: false): {str(payload)[:120]}")
            return None
        text = payload.strip("\n")
        lines = count_lines(text)
        return (text, lines) if lines else None

    def write_batch(self, items: list[str]) -> int:
        """POST the lines (retrying 429/5xx); raises when InfluxDB refuses them."""
        return self.store.write_lines(items)

    def close_store(self) -> None:
        """Close the HTTP pool."""
        self.store.close()

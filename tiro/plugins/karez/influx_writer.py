"""The `influx_writer` aggregator: writes the line protocol on `karez.telemetry.>` to InfluxDB (Telegraf's job), or
with `frames: true` the lines of the `tiro.records` frames it reads (e.g. the store's category: no line-protocol hop).

It gets its own copy of the stream (queue group `influx_writer_<name>`, as Telegraf had `karez_telegraf`), joins
messages into requests of `batch_size` lines, and writes them from a worker thread so the event loop keeps receiving.
Replays are harmless: InfluxDB keeps one point per series and timestamp. `BatchingAggregator`
(tiro.plugins.karez.batching) holds the batching, back-pressure and failure rules shared with the other stores.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.frame_lines import FrameLineEncoder
from karez.frames import COLUMNS_KEY, FRAME_KEY, frame_length, is_frame
from tiro.frames import RECORDS
from tiro.plugins.karez.batching import BatchingAggregator
from tiro.stores.influx import InfluxTelemetryStore, counted
from tiro_models.line_protocol import FIELD_NAME, FIELD_VALUE

DEFAULT_URL = "http://localhost:8086"


class InfluxWriterAggregator(BatchingAggregator):
    """Write influx line protocol from Karez to InfluxDB in batches (the Telegraf replacement)."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
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
        """Lines the server refused, or still unwritten at shutdown (core mode)."""
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

    FRAMES = True  # reads `tiro.records` frames (with `frames: true`), besides line-protocol text

    def accept(self, payload: Any) -> tuple[str, int] | None:
        """A message of line protocol (one or many lines), with its count of points (counted once: a text of 2,000
        lines takes a pass over every line), or a `tiro.records` frame as its lines; anything else is dropped and
        logged."""
        if is_frame(payload):
            return self._frame_lines(payload)
        if isinstance(payload, dict) and isinstance(payload.get("_as_is"), str):
            payload = payload["_as_is"]
        if not isinstance(payload, str):
            self.stats.dropped += 1
            self.log("error", f"Dropped a non-text item (set json: false): {str(payload)[:120]}")
            return None
        text, points = counted(payload)
        return (text, points) if text else None

    def _frame_lines(self, frame: dict[str, Any]) -> tuple[str, int] | None:
        """A `tiro.records` frame's rows as the §6 line protocol (each series' head made once); rows that cannot be
        written are dropped and logged with their path, a frame of another schema as a whole."""
        schema = frame[FRAME_KEY]["schema"]
        encoder = self.frame_encoder
        if schema != RECORDS.name or not encoder.can_encode(frame):
            self.stats.dropped += frame_length(frame)
            wants = f"{self.name} writes line-protocol text and {RECORDS.name} frames"
            self.log("error", f"Dropped a {schema} frame of {frame_length(frame)} rows: {wants}")
            return None
        encoded = encoder.encode(frame)
        paths = frame[COLUMNS_KEY]["path"]
        for row, error in encoded.failed:
            self.stats.dropped += 1
            self.log("error", f"Dropped row {row} ({paths[row]}) of a {schema} frame: {type(error).__name__}: {error}")
        return (encoded.joined(), encoded.count) if encoded.count else None

    @cached_property
    def frame_encoder(self) -> FrameLineEncoder:
        """Line protocol of `tiro.records` rows in the store's measurement with the §6 field (each head remembered)."""
        return FrameLineEncoder(self.store.settings.measurement, FIELD_NAME, FIELD_VALUE)

    def units_of(self, item: tuple[str, int]) -> int:
        """A text counts for its points."""
        return item[1]

    def write_batch(self, items: list[tuple[str, int]]) -> int:
        """POST the lines (retrying 429/5xx); raises when InfluxDB refuses them."""
        return self.store.write_counted(items)

    def close_store(self) -> None:
        """Close the HTTP pool."""
        self.store.close()

"""The `tiro_store` aggregator: flat data-point records into the telemetry and graph stores of a URL, in batches.

Records (the `tiro_preprocess` output) are buffered and written when `batch_size` records are waiting or every
`flush_interval` seconds, and whatever is left when the role drains. In durable mode the records of each message are
written before `handle_items` returns and a failed write raises, so the message is not acked and comes back later.
Writes are idempotent in every store (same series and timestamp stored once), so redeliveries do no harm. How the
stores of a URL are written (one sqlite file, on the loop or in a thread) is `tiro.stores.record_stores`' business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

from karez.aggregator.base import AggregatorBase
from karez.config import ConfigEntity, OptionalConfigEntity
from tiro.plugins.karez.settings import model_for, split_uses
from tiro.settings import DEFAULT_STORE_URL
from tiro.stores.record_stores import RecordStores, offered_targets
from tiro_models.errors import TiroError

__all__ = ["TiroStoreAggregator"]

_RECORD_KEYS = ("asset_path", "type", "field")
# what a store raises for a record it cannot take (as opposed to being unreachable): retrying will not help
_DATA_ERRORS = (TiroError, TypeError, ValueError)


class TiroStoreAggregator(AggregatorBase):
    """Writes flat data-point records to the store(s) of `store` (sqlite: telemetry history and graph)."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Store URL, scenario and uses (for the graph bootstrap), which stores, and the batching limits."""
        yield from super().config_entities()
        yield OptionalConfigEntity("store", DEFAULT_STORE_URL, "Store URL: sqlite:///path.db, influx+http://…")
        yield OptionalConfigEntity("scenario", None, "Scenario YAML (the graph store is bootstrapped from it)")
        yield OptionalConfigEntity("uses", None, "Uses YAML file(s): a list or a comma-separated string")
        yield OptionalConfigEntity("targets", None, "Stores to write: telemetry, graph (default: all of the URL's)")
        yield OptionalConfigEntity("batch_size", 5000, "Write when this many records are waiting")
        yield OptionalConfigEntity("flush_interval", 0.5, "Write waiting records at least this often (seconds)")
        yield OptionalConfigEntity("max_buffer", 200_000, "Records kept while the store fails before dropping")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Persist Tiro records in the telemetry/graph stores of a URL (sqlite by default)."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            wanted = split_uses(self.config.targets) if self.config.targets else None
            self.targets = offered_targets(self.config.store, wanted)
        except ValueError as e:
            raise ValueError(f"{self._log_name}: {e}") from None
        self.stores: RecordStores | None = None
        self.written = 0
        self._buffer: list[Mapping[str, Any]] = []
        self._timer: asyncio.Task | None = None

    # ----- stores -----
    def open_stores(self) -> RecordStores:
        """Open and bootstrap the stores (once); the graph is synced to the scenario when one is configured."""
        if self.stores is None:
            model = model_for(self.config.scenario, split_uses(self.config.uses)) if self.config.scenario else None
            self.stores, removed = RecordStores.open(self.config.store, self.targets, model)
            if removed:
                self.log("info", f"graph sync removed {len(removed)}: {', '.join(removed[:10])}")
        return self.stores

    async def _write(self, records: list[Mapping[str, Any]]) -> None:
        stores = self.stores if self.stores is not None else await asyncio.to_thread(self.open_stores)
        self.written += await stores.write_soon(records)

    # ----- receiving -----
    def _records(self, items: list[Any]) -> list[Any]:
        """The items that are data-point records; the others are dropped, counted and logged.

        Run only after a write failed: another pass over thousands of freshly decoded dicts costs about as much as
        a tenth of the whole write, so the stores' own checks come first."""
        records = [i for i in items if isinstance(i, dict) and all(key in i for key in _RECORD_KEYS)]
        if len(records) < len(items):
            for item in items:
                if not (isinstance(item, dict) and all(key in item for key in _RECORD_KEYS)):
                    self.stats.dropped += 1
                    self.log("error", f"Dropped an item that is not a data-point record: {str(item)[:120]}")
        return records

    async def handle_items(self, items: list[Any], subject: str) -> list[tuple[str, Any]]:
        """Buffer the records; in durable mode write them before returning (a failure raises: no ack)."""
        if self.delivery.redelivers:
            if items:
                try:
                    await self._write(items)
                except Exception:
                    records = self._records(items)
                    if len(records) == len(items):
                        raise
                    if records:
                        await self._write(records)
            return []
        self._buffer.extend(items)
        if len(self._buffer) >= int(self.config.batch_size):
            await self.flush_buffer()
        return []

    async def process(self, payload: Any) -> None:
        """One record (the per-item hook; `handle_items` batches a whole message)."""
        await self.handle_items([payload], "")

    async def flush_buffer(self) -> None:
        """Write the waiting records; on failure keep them (up to `max_buffer`) for the next attempt."""
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        try:
            await self._write(batch)
            return
        except Exception as e:
            error = e
        records = self._records(batch)  # items that are not records are dropped here, then the rest is written
        if len(records) < len(batch):
            if not records:
                return
            try:
                await self._write(records)
                return
            except Exception as e:
                error = e
        if isinstance(error, _DATA_ERRORS):
            await self._write_separately(records)
        else:
            self._keep(records, error)

    async def _write_separately(self, batch: list[Mapping[str, Any]]) -> None:
        """After a data error, split the batch in halves until each malformed record stands alone: it is dropped (and
        counted) instead of failing its batch on every retry, and the rest is written in about 2·log2(n) writes per
        bad record rather than one write per record."""
        pending = [batch]
        while pending:
            part = pending.pop()
            try:
                await self._write(part)
            except _DATA_ERRORS as e:
                if len(part) == 1:
                    self.stats.dropped += 1
                    self.log("error", f"Dropped a record the store refuses ({type(e).__name__}: {e})")
                else:
                    middle = len(part) // 2
                    pending += (part[middle:], part[:middle])  # the first half is written first
            except Exception as e:
                self._keep([record for chunk in (part, *reversed(pending)) for record in chunk], e)
                return

    def _keep(self, batch: list[Mapping[str, Any]], e: Exception) -> None:
        """Put a batch whose write failed back in front of the buffer (bounded by `max_buffer`)."""
        self._buffer = batch + self._buffer
        excess = len(self._buffer) - int(self.config.max_buffer)
        if excess > 0:
            del self._buffer[:excess]
            self.stats.dropped += excess
        self.log("error", f"Writing {len(batch)} records failed ({type(e).__name__}: {e}); will retry")

    async def _flush_periodically(self) -> None:
        interval = float(self.config.flush_interval)
        while True:
            await asyncio.sleep(interval)
            await self.flush_buffer()

    async def start(self) -> None:
        """Open the stores before subscribing (bad URLs and scenarios fail at once), then start the flush timer."""
        await asyncio.to_thread(self.open_stores)
        await super().start()
        if self._timer is None:
            self._timer = asyncio.create_task(self._flush_periodically(), name=f"{self._log_name}:flush")

    async def drain(self) -> None:
        """Stop receiving, then write everything still buffered."""
        await super().drain()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush_buffer()

    async def close(self) -> None:
        """Write what is left, close the stores and the connection."""
        await self.flush_buffer()
        if self.stores is not None:
            self.stores.close()
            self.stores = None
        await super().close()

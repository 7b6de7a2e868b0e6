"""The `tiro_store` aggregator: flat data-point records into the telemetry and graph stores of a URL, in batches.

Records (the `tiro_preprocess` output) are batched, written and retried by `BatchingAggregator`
(tiro.plugins.karez.batching), which holds the failure policy shared with `influx_writer` and `arango_db`. How the
stores of a URL are written (one sqlite file, on the loop or in a thread) is `tiro.stores.record_stores`' business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from tiro.plugins.karez.batching import BatchingAggregator
from tiro.plugins.karez.settings import model_for, split_uses
from tiro.settings import DEFAULT_STORE_URL
from tiro.stores.record_stores import RecordStores, offered_targets

__all__ = ["TiroStoreAggregator"]

_RECORD_KEYS = ("asset_path", "type", "field")


class TiroStoreAggregator(BatchingAggregator):
    """Writes flat data-point records to the store(s) of `store` (sqlite: telemetry history and graph)."""

    FLUSH_INTERVAL = 0.5

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Store URL, scenario and uses (for the graph bootstrap), which stores, and the batching limits."""
        yield from super().config_entities()
        yield OptionalConfigEntity("store", DEFAULT_STORE_URL, "Store URL: sqlite:///path.db, influx+http://…")
        yield OptionalConfigEntity("scenario", None, "Scenario YAML (the graph store is bootstrapped from it)")
        yield OptionalConfigEntity("uses", None, "Uses YAML file(s): a list or a comma-separated string")
        yield OptionalConfigEntity("targets", None, "Stores to write: telemetry, graph (default: all of the URL's)")

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

    @property
    def written(self) -> int:
        """Records written so far."""
        return self.items_written

    # ----- stores -----
    def open_stores(self) -> RecordStores:
        """Open and bootstrap the stores (once); the graph is synced to the scenario when one is configured."""
        if self.stores is None:
            model = model_for(self.config.scenario, split_uses(self.config.uses)) if self.config.scenario else None
            self.stores, removed = RecordStores.open(self.config.store, self.targets, model)
            if removed:
                self.log("info", f"graph sync removed {len(removed)}: {', '.join(removed[:10])}")
        return self.stores

    async def prepare(self) -> None:
        """Open the stores before subscribing, so bad URLs and scenarios fail at once."""
        await asyncio.to_thread(self.open_stores)

    # ----- the batching hooks -----
    def accept_items(self, items: list[Any]) -> tuple[list[Any], int]:
        """Every item, unchecked: another pass over thousands of freshly decoded dicts costs about a tenth of the
        whole write, so the stores' own checks come first and `screen` runs only after a write failed."""
        return items, len(items)

    def screen(self, items: list[Any]) -> list[Any]:
        """The items that are data-point records; the others are dropped, counted and logged."""
        records = [i for i in items if isinstance(i, dict) and all(key in i for key in _RECORD_KEYS)]
        if len(records) < len(items):
            for item in items:
                if not (isinstance(item, dict) and all(key in item for key in _RECORD_KEYS)):
                    self.stats.dropped += 1
                    self.log("error", f"Dropped an item that is not a data-point record: {str(item)[:120]}")
        return records

    async def write(self, items: list[Mapping[str, Any]]) -> int:
        """Write records to the stores (sqlite on the loop unless its write lock is taken)."""
        stores = self.stores if self.stores is not None else await asyncio.to_thread(self.open_stores)
        return await stores.write_soon(items)

    def close_store(self) -> None:
        """Close the stores."""
        if self.stores is not None:
            self.stores.close()
            self.stores = None

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
from karez.frames import (
    COLUMNS_KEY,
    SERIES_COLUMN,
    count_items,
    expand,
    frame_length,
    is_frame,
    model_of,
    rows_with_meta,
    split_schema,
)
from tiro.frames import RECORDS
from tiro.plugins.karez.batching import BatchingAggregator
from tiro.plugins.karez.settings import model_for, split_uses
from tiro.settings import DEFAULT_STORE_URL
from tiro.stores.record_stores import RecordStores, offered_targets

__all__ = ["TiroStoreAggregator"]

_RECORD_KEYS = ("asset_path", "type", "field")


def _is_record(item: Any) -> bool:
    return isinstance(item, dict) and (all(key in item for key in _RECORD_KEYS) or is_frame(item))


def _joined(frames: list[Any], column: str) -> list[Any]:
    """One column of several frames, end to end."""
    if len(frames) == 1:
        return frames[0][COLUMNS_KEY][column]
    joined: list[Any] = []
    for frame in frames:
        joined += frame[COLUMNS_KEY][column]
    return joined


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
    FRAMES = True

    def accept_items(self, items: list[Any]) -> tuple[list[Any], int]:
        """Every item, unchecked: another pass over thousands of freshly decoded dicts costs about a tenth of the
        whole write, so the stores' own checks come first and `screen` runs only after a write failed. A frame
        counts for its rows."""
        return items, count_items(items)

    def units_of(self, item: Any) -> int:
        """A record counts one, a frame its rows."""
        return frame_length(item) if is_frame(item) else 1

    def parts_of(self, item: Any) -> list[Any]:
        """A refused frame as its records, so that only the rows the store refuses are dropped."""
        return rows_with_meta(item) if is_frame(item) else [item]

    def screen(self, items: list[Any]) -> list[Any]:
        """The items that are data-point records or frames of them; the others are dropped, counted and logged."""
        records = [i for i in items if _is_record(i)]
        if len(records) < len(items):
            for item in items:
                if not _is_record(item):
                    self.stats.dropped += 1
                    self.log("error", f"Dropped an item that is not a data-point record: {str(item)[:120]}")
        return records

    async def write(self, items: list[Mapping[str, Any]]) -> int:
        """Write records and `tiro.records` frames to the stores (sqlite on the loop unless its write lock is
        taken); a frame's columns go straight into sqlite's rows."""
        stores = self.stores if self.stores is not None else await asyncio.to_thread(self.open_stores)
        if not items or not is_frame(items[0]):
            return await stores.write_soon(items)
        framed, others = split_schema(items, RECORDS.name)
        written = 0
        if framed:
            paths, stamps, values, units = (_joined(framed, name) for name in ("path", "timestamp", "value", "unit"))
            models = {model_of(frame) for frame in framed}
            model = models.pop() if len(models) == 1 else None
            series = (model, _joined(framed, SERIES_COLUMN)) if model is not None else None
            written += await stores.run_soon(
                stores.write_sample_columns, paths, stamps, values, units, lambda: expand(framed), series
            )
        if others:
            written += await stores.write_soon(others)
        return written

    def close_store(self) -> None:
        """Close the stores."""
        if self.stores is not None:
            self.stores.close()
            self.stores = None

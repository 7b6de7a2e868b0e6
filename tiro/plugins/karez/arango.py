"""The `arango_db` aggregator (upstream `ArangoAggregator`): decomposed records into the ArangoDB graph, in batches.

Upstream re-created the graph on every message and called python-arango synchronously inside the event loop. Here
the graph is bootstrapped once at start, records are batched (one AQL request per batch) and every python-arango
call runs in a worker thread. Keys are qualified by asset path, and a point never goes back to an older timestamp,
so replays are harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.frames import expand, frame_length, is_frame, rows_with_meta, split_schema
from tiro.frames import RECORDS
from tiro.plugins.karez.batching import BatchingAggregator
from tiro.plugins.karez.settings import model_for, split_uses
from tiro.stores.arango import ArangoGraphStore

DEFAULT_HOSTS = "http://localhost:8529"
_RECORD_KEYS = ("asset_path", "type", "field")


class ArangoAggregator(BatchingAggregator):
    """Upsert decomposed Tiro records into the ArangoDB graph (bootstrapped once from the scenario)."""

    BATCH_SIZE = 1000  # records per upsert request

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Upstream keys: category, scenario, uses, db_name, graph_name, hosts, auth; plus batching."""
        yield from super().config_entities()
        yield ConfigEntity("scenario", "Scenario YAML")
        yield ConfigEntity("uses", "Uses YAML file(s): a list or a comma-separated string")
        yield OptionalConfigEntity("db_name", "tiro", "ArangoDB database")
        yield OptionalConfigEntity("graph_name", "scenario", "ArangoDB graph")
        yield OptionalConfigEntity("hosts", DEFAULT_HOSTS, "ArangoDB URL(s): a string, comma-separated, or a list")
        yield OptionalConfigEntity("auth", {}, "Credentials {username, password} (username default root)")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Upsert Tiro records into the ArangoDB graph in batches."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        self.model = model_for(c.scenario, split_uses(c.uses))
        self.store = ArangoGraphStore(
            c.hosts or DEFAULT_HOSTS, db_name=c.db_name, graph_name=c.graph_name, auth=dict(c.auth or {})
        )
        self.bootstrapped = False

    async def prepare(self) -> None:
        """Bootstrap the database and graph once (upstream did it on every message)."""
        if not self.bootstrapped:
            report = await asyncio.to_thread(self.store.bootstrap, self.model)
            self.bootstrapped = True
            self.log("info", f"bootstrap of {report.store}: {report.to_dict()}")

    FRAMES = True

    def accept_items(self, items: list[Any]) -> tuple[list[Any], int]:
        """`tiro.records` frames as they are (a frame counts for its rows); every other item through `accept`."""
        framed, rest = split_schema(items, RECORDS.name)
        kept, units = super().accept_items(rest)
        return framed + kept, units + sum(map(frame_length, framed))

    def units_of(self, item: Any) -> int:
        """A record counts one, a frame its rows."""
        return frame_length(item) if is_frame(item) else 1

    def parts_of(self, item: Any) -> list[Any]:
        """A refused frame as its records, so that only the records ArangoDB refuses are dropped."""
        return rows_with_meta(item) if is_frame(item) else [item]

    def accept(self, payload: Any) -> dict[str, Any] | None:
        """A decomposed record (`asset_path`, `type`, `field`, `value`, ...); anything else is dropped and logged."""
        if not isinstance(payload, dict) or any(key not in payload for key in _RECORD_KEYS):
            self.stats.dropped += 1
            self.log("error", f"Dropped an item that is not a decomposed record: {str(payload)[:120]}")
            return None
        return payload

    def write_batch(self, items: list[dict[str, Any]]) -> int:
        """Upsert the records (a frame's rows among them) in one AQL request."""
        return self.store.upsert_records(expand(items))

    def close_store(self) -> None:
        """Close the HTTP session."""
        self.store.close()

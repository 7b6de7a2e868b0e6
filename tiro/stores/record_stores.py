"""`RecordStores`: the telemetry and graph stores of one URL, opened and written together as one.

What a writer of data-point records should not have to know lives here: a sqlite URL gives one file whose graph reads
its values from the telemetry samples (so each sample is written once, through the graph), and sqlite writes run on
the event loop, moving to a thread only when another connection holds the file's write lock. Writes to sqlite run on
the loop because they are milliseconds of CPU work, and a writer thread next to a busy loop waits for the GIL at every
sqlite call (measured: a 2,000-record write took minutes beside a busy loop).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

from tiro.stores.base import GraphStore, TelemetryStore
from tiro.stores.sqlite.database import SqliteDatabase, is_lock_timeout
from tiro.stores.sqlite.graph import SqliteGraphStore
from tiro.stores.sqlite.telemetry import SqliteTelemetryStore
from tiro.stores.urls import BACKENDS, open_graph_store, open_telemetry_store, parse_store_url, redact_url
from tiro_models.spec import Model

__all__ = ["TARGETS", "RecordStores", "offered_targets"]

TARGETS = ("telemetry", "graph")
_INLINE_LOCK_WAIT_S = 0.05  # an inline write waits this long for another writer, then retries in a thread


def offered_targets(url: str, wanted: Sequence[str] | None = None) -> tuple[str, ...]:
    """The stores to write for `url`: `wanted` (default: every store the URL offers); ValueError for one it lacks."""
    offered = tuple(t for t, backend in zip(TARGETS, BACKENDS[parse_store_url(url).kind], strict=True) if backend)
    chosen = tuple(wanted) if wanted else offered
    for target in chosen:
        if target not in offered:
            raise ValueError(f"{redact_url(url)} has no {target} store (it offers {offered})")
    return chosen


class RecordStores:
    """The telemetry and/or graph store of a URL, bootstrapped, written with one call."""

    def __init__(
        self,
        telemetry: TelemetryStore | None,
        graph: GraphStore | None,
        graph_writes_telemetry: bool,
        databases: Sequence[SqliteDatabase] = (),
    ) -> None:
        self.telemetry = telemetry
        self.graph = graph
        self._graph_writes_telemetry = graph_writes_telemetry
        self._databases = list(databases)  # the sqlite files written on the loop (a sqlite URL's stores share one)
        self._write_lock = asyncio.Lock()

    @classmethod
    def open(cls, url: str, targets: Sequence[str], model: Model | None = None) -> tuple[RecordStores, list[str]]:
        """Open and bootstrap the `targets` stores of `url` (the graph synced to `model` when given); also returns
        the graph nodes the sync removed."""
        telemetry = None
        if "telemetry" in targets:
            telemetry = open_telemetry_store(url)
            telemetry.bootstrap()
        graph = None
        removed: list[str] = []
        linked = False
        if "graph" in targets:
            linked = telemetry is not None and parse_store_url(url).kind == "sqlite"
            graph = open_graph_store(url, telemetry=telemetry) if linked else open_graph_store(url)
            if model is not None:
                removed = list(graph.bootstrap(model).removed)
        databases: list[SqliteDatabase] = []
        for store in (telemetry, graph):
            if isinstance(store, SqliteTelemetryStore | SqliteGraphStore) and store.db not in databases:
                databases.append(store.db)
        return cls(telemetry, graph, linked, databases), removed

    def write(self, records: list[Mapping[str, Any]]) -> int:
        """Write records to every store now (blocking); raises when a store fails."""
        if self.telemetry is not None and not self._graph_writes_telemetry:
            self.telemetry.write_records(records)
        if self.graph is not None:
            self.graph.upsert_records(records)
        return len(records)

    def write_sample_columns(
        self,
        paths: list[Any],
        stamps: list[Any],
        values: list[Any],
        units: list[Any],
        records: Callable[[], list[Mapping[str, Any]]],
        series: tuple[str, list[int]] | None = None,
    ) -> int:
        """Write samples given as columns (data-point path, epoch seconds, value, unit) now (blocking): straight
        from the columns into a sqlite telemetry store, when every sample is of a known series and the usual kind;
        else as the `records` (called only then) through `write`, which creates series and refuses bad samples.
        `series`: the samples' series ids and the model they are of, the faster lookup of known series."""
        sqlite = isinstance(self.telemetry, SqliteTelemetryStore) and (
            self.graph is None or self._graph_writes_telemetry
        )
        telemetry = self.telemetry
        sids = telemetry.write_sample_columns(paths, stamps, values, units, series) if sqlite else None  # type: ignore[union-attr]
        if sids is None:
            return self.write(records())
        if isinstance(self.graph, SqliteGraphStore):
            self.graph.add_points_of_series(sids, records)
        return len(sids)

    async def write_soon(self, records: list[Mapping[str, Any]]) -> int:
        """`write` from the event loop: inline for sqlite unless another connection holds the write lock, else in a
        thread; one write at a time."""
        return await self.run_soon(self.write, records)

    async def run_soon(self, write: Callable[..., int], *args: Any) -> int:
        """Run a write from the event loop: inline for sqlite unless another connection holds the write lock, else
        in a thread; one write at a time."""
        async with self._write_lock:
            if self._databases:
                try:
                    with ExitStack() as waits:
                        for db in self._databases:
                            waits.enter_context(db.lock_wait(_INLINE_LOCK_WAIT_S))
                        written = write(*args)
                    await asyncio.sleep(0)  # the write held the loop: let the process's other work run first
                    return written
                except sqlite3.OperationalError as e:
                    if not is_lock_timeout(e):
                        raise
            return await asyncio.to_thread(write, *args)

    def close(self) -> None:
        """Close every store."""
        for store in (self.telemetry, self.graph):
            if store is not None:
                store.close()

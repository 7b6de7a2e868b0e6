"""Watching the pipeline from outside: what was dispatched, collected, dead-lettered, and the roles' counters.

A core NATS subscriber sees every message published on a subject, JetStream-captured or not. The tap records
- tasks on `karez.connector.<connector>`: how often each data-point path was dispatched;
- the connector's output on `karez.converter.<first converter>`: the samples that entered the pipeline, keyed by
  (path, nanosecond timestamp) exactly as the sqlite store keys them, grouped by `Nats-Msg-Id`. Messages sharing an
  id are one task published again after a redelivery: JetStream keeps one of them (the accounting picks the one the
  store holds) and deduplicates the others;
- dead letters on `karez.dlq.>` with their reasons, and the newest `karez.metrics.>` counters per role.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any

import nats
import orjson

from karez.frames import expand
from karez.shared_columns import SharedColumns


def timestamp_ns(iso: str) -> int:
    """The sqlite store's key for a mock timestamp: float epoch seconds (as tiro_preprocess makes) × 1e9."""
    return int(datetime.fromisoformat(iso).timestamp() * 1e9)


async def _items(msg: Any, shared: SharedColumns) -> list[Any]:
    """The items of a message, a frame's rows among them; none for a message that cannot be read (a poison)."""
    try:
        return expand(await shared.decode(msg.data, msg.headers))
    except (ValueError, LookupError):
        return []


class Tap:
    """Core NATS subscriptions that count what flows (reconnects on its own through a nats-server restart)."""

    def __init__(self, connector: str, first_converter: str) -> None:
        self.task_subject = f"karez.connector.{connector}"
        self.collected_subject = f"karez.converter.{first_converter}"
        self.tasks_per_path: Counter[str] = Counter()
        self.tasks = 0
        self.first_task_at: float | None = None
        self.task_times: list[float] = []  # monotonic arrival of each task message: dispatch gaps (failovers)
        self.repeat_window = 0.0  # > 0: count paths dispatched again sooner than this many seconds (a double round)
        self.early_repeats = 0
        self._last_task_of: dict[str, float] = {}
        self._task_ids: set[str] = set()
        self.collected_by_id: dict[str, list[set[tuple[str, int]]]] = {}
        self._messages = 0
        self.dead_letters: list[dict[str, Any]] = []
        self.metrics: dict[str, dict[str, int]] = {}
        self.disconnects = 0
        self.connection_errors = 0
        self.nc: Any = None
        self.shared: Any = None

    async def connect(self, url: str | list[str]) -> Tap:
        """Connect and subscribe (flushed: the subscriptions are live when this returns)."""

        async def disconnected() -> None:
            self.disconnects += 1

        async def error(e: Exception) -> None:
            self.connection_errors += 1  # expected while a case restarts nats-server

        servers = url.split(",") if isinstance(url, str) else url  # a cluster: every node, comma-separated
        self.nc = await nats.connect(
            servers, max_reconnect_attempts=-1, reconnect_time_wait=0.1, disconnected_cb=disconnected, error_cb=error,
            pending_size=256 * 1024 * 1024,
        )  # fmt: skip
        self.shared = SharedColumns(self.nc.jetstream())
        await self.nc.subscribe(self.task_subject, cb=self._on_task, pending_msgs_limit=-1, pending_bytes_limit=-1)
        await self.nc.subscribe(
            self.collected_subject, cb=self._on_collected, pending_msgs_limit=-1, pending_bytes_limit=-1
        )
        await self.nc.subscribe("karez.dlq.>", cb=self._on_dead_letter)
        await self.nc.subscribe("karez.metrics.>", cb=self._on_metrics)
        await self.nc.flush()
        return self

    async def _on_task(self, msg: Any) -> None:
        now = time.monotonic()
        msg_id = (msg.headers or {}).get("Nats-Msg-Id")
        if msg_id is not None:  # a durable dispatcher's retry of a publish JetStream did not confirm: one task
            if msg_id in self._task_ids:
                return
            self._task_ids.add(msg_id)
        for item in await _items(msg, self.shared):
            paths = item.get("tasks", []) if isinstance(item, dict) else item
            if isinstance(paths, list):
                self.tasks += 1
                named = [p for p in paths if isinstance(p, str)]
                self.tasks_per_path.update(named)
                if self.repeat_window > 0:
                    last = self._last_task_of
                    self.early_repeats += sum(1 for p in named if now - last.get(p, -1e9) < self.repeat_window)
                    last.update(dict.fromkeys(named, now))
        self.task_times.append(now)
        if self.first_task_at is None:
            self.first_task_at = now

    async def _on_collected(self, msg: Any) -> None:
        self._messages += 1
        msg_id = (msg.headers or {}).get("Nats-Msg-Id") or f"core:{self._messages}"
        keys: set[tuple[str, int]] = set()
        for item in await _items(msg, self.shared):
            try:
                keys.add((item["path"], timestamp_ns(item["result"]["timestamp"])))
            except (KeyError, TypeError, ValueError):
                continue  # not a mock sample (e.g. an injected poison message)
        self.collected_by_id.setdefault(msg_id, []).append(keys)

    async def _on_dead_letter(self, msg: Any) -> None:
        try:
            body = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            body = {"data": msg.data.decode(errors="replace")}
        self.dead_letters.append(
            {"dlq_subject": msg.subject, "subject": body.get("subject"), "error": str(body.get("error"))[:200]}
        )

    async def _on_metrics(self, msg: Any) -> None:
        body = orjson.loads(msg.data)
        self.metrics[f"{body.get('kind')}.{body.get('name')}"] = {
            k: body.get(k, 0) for k in ("received", "published", "errors", "dropped")
        }

    def roles_reporting(self) -> set[str]:
        """Roles whose metrics have been seen."""
        return set(self.metrics)

    async def close(self) -> None:
        """Drain and close the connection."""
        if self.nc is not None:
            try:
                await self.nc.drain()
            except Exception:
                await self.nc.close()

"""`DispatcherBase`: load entities on a drift-free timer and publish task batches to one connector."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.role import LeaseGate, RoleBase
from karez.utils import resolve_items

MODES = ("burst", "rand", "even", "rand_mixed", "even_mixed")


class DispatcherBase(RoleBase):
    """Periodically loads entities and sends them in batches to a connector."""

    TYPE = "dispatcher"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.interval = float(self.config.interval)
        self.target = self.config.connector
        self._pending: set[asyncio.Task[Any]] = set()
        self._round = 0
        self._seq = 0
        self._boot = time.time_ns()
        # When several hosts run this dispatcher (karez.leader): the lease it runs under, confirmed before each round
        # (False: another instance is active) and checked by a delayed batch before it goes out, so a process that
        # was frozen or cut off past its lease does not publish after its successor started.
        self.lease: LeaseGate | None = None
        self._resume_at: float | None = None  # wall clock of the first round after a takeover

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Timer and batching keys."""
        yield from super().config_entities()
        yield ConfigEntity("interval", "Seconds between two dispatch rounds")
        yield ConfigEntity("connector", "Name of the connector receiving the tasks")
        yield OptionalConfigEntity("batch_size", 1, "Entities per task message")
        yield OptionalConfigEntity("mode", "burst", "burst, rand, even, rand_mixed or even_mixed")
        yield OptionalConfigEntity("shuffle", False, "Shuffle the order of batches")

    async def load_entities(self) -> list[Any]:
        """Return the entities of one round (plugins implement this)."""
        raise NotImplementedError

    def divide_tasks(self, entities: list[Any]) -> Iterator[dict[str, list[Any]]]:
        """Yield `{"tasks": slice}` batches of `batch_size` entities."""
        size = max(1, int(self.config.batch_size or 1))
        for i in range(0, len(entities), size):
            yield {"tasks": entities[i : i + size]}

    async def process(self, _: Any = None) -> list[dict[str, Any]]:
        """All task batches of one round."""
        entities = await resolve_items(self.load_entities())
        batches = list(self.divide_tasks(entities))
        if self.config.shuffle:
            random.shuffle(batches)
        return batches

    def _decide_wait_time(self, index: int, total: int) -> float:
        mode = str(self.config.mode or "burst").lower()
        if mode.endswith("_mixed"):
            if self._round == 0:
                return 0.0
            mode = mode[: -len("_mixed")]
        if mode == "rand":
            return random.uniform(0, self.interval)
        if mode == "even":
            return index * self.interval / max(total, 1)
        return 0.0

    async def wait_and_publish(self, topic: str, content: Any, wait_time: float) -> None:
        """Publish `content` after `wait_time` seconds."""
        if wait_time > 0:
            await asyncio.sleep(wait_time)
            if self.lease is not None and not self.lease.valid():
                self.log("warning", f"{len(content.get('tasks', []))} tasks not published: the lease expired")
                return
        self._seq += 1
        msg_id = f"{self.name}:{self._boot}:{self._seq}" if self.delivery.stores_publishes else None
        if msg_id is None:
            await self.emit([(topic, content)], None)
        else:
            await self._publish_until_stored(topic, content, msg_id)
        self.log("info", f"{len(content.get('tasks', []))} tasks published to {topic}.")

    async def _publish_until_stored(self, topic: str, content: Any, msg_id: str) -> None:
        """Durable mode: retry a task publish until JetStream acknowledges it (a NATS restart must not lose tasks).

        Retries carry the same `Nats-Msg-Id`, so the stream stores the task once; past the stream's duplicate window
        that promise ends, so we give up there and say so."""
        from karez.durable import DUPLICATE_WINDOW, TASK_PUBACK_TIMEOUT

        loop = asyncio.get_running_loop()
        give_up = loop.time() + DUPLICATE_WINDOW
        delay = 0.1
        while True:
            try:
                await self.emit([(topic, content)], msg_id, TASK_PUBACK_TIMEOUT)
                return
            except Exception as e:
                if loop.time() + delay >= give_up:
                    raise
                self.log("warning", f"Publishing tasks to {topic} failed ({type(e).__name__}: {e}); retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._pending.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self.log_exception(error, "Delayed publish failed")

    async def dispatch_round(self) -> None:
        """Load entities and schedule this round's batches."""
        try:
            batches = await self.process(None)
        except Exception as e:
            self.log_exception(e, "Error loading entities")
            return
        topic = self.connector_topic(self.target)
        for i, batch in enumerate(batches):
            wait = self._decide_wait_time(i, len(batches))
            if wait <= 0:
                await self.wait_and_publish(topic, batch, 0)
            else:
                self._track(asyncio.create_task(self.wait_and_publish(topic, batch, wait)))
        await self.flush()

    def resume_from(self, state: dict[str, Any] | None, lease: LeaseGate) -> None:
        """After a takeover: continue the predecessor's grid (its next round), so no round is dispatched twice, and
        dispatch only while `lease` holds."""
        self.lease = lease
        next_round = (state or {}).get("next_round")
        self._resume_at = float(next_round) if isinstance(next_round, int | float) else None

    def abandon(self) -> None:
        """After losing the lease: cancel this round's delayed batches (the new active instance dispatches)."""
        for task in list(self._pending):
            task.cancel()

    async def _may_dispatch(self) -> bool:
        if self.lease is None:
            return True
        return await self.lease.confirm({"next_round": time.time() + self.interval, "interval": self.interval})

    async def run(self) -> None:
        """Dispatch on a monotonic grid: round k starts at start + k*interval, skipping missed ticks."""
        await self.start()
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        if self._resume_at is not None:  # a takeover: the predecessor's next round, at once if it is overdue
            next_tick += max(0.0, self._resume_at - time.time())
            self._resume_at = None
            await asyncio.sleep(next_tick - loop.time())
        while True:
            if await self._may_dispatch():
                await self.dispatch_round()
            self._round += 1
            next_tick += self.interval
            now = loop.time()
            if next_tick <= now:  # a slow round: skip the ticks we missed instead of bursting
                missed = int((now - next_tick) // self.interval) + 1
                next_tick += missed * self.interval
            await asyncio.sleep(next_tick - now)

    async def drain(self) -> None:
        """Let delayed publishes of the current round finish, then flush."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=self.interval + 1)
        await self.flush()

"""`AggregatorBase`: terminal sink for one category."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

from nats.aio.msg import Msg

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.frames import ENCODING_HEADER
from karez.role import RoleBase
from karez.subjects import category_wildcard


class AggregatorBase(RoleBase):
    """Receives every item of a category (`karez.<category>.>`, queue group `<category>`)."""

    TYPE = "aggregrator"  # sic: upstream's spelling, kept for plugins that print it

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Category, JSON decoding, queue override and thread offloading."""
        yield from super().config_entities()
        yield ConfigEntity("category", "Category of data to aggregate")
        yield OptionalConfigEntity("json", True, "Decode messages as JSON (false: receive text)")
        yield OptionalConfigEntity("queue", None, "Queue group (default: the category)")
        yield OptionalConfigEntity("offload", False, "Run a blocking sync process() in a worker thread")

    @property
    def listens(self) -> bool:
        """Aggregators subscribe to their category."""
        return True

    @property
    def subscribe_topic(self) -> str:
        """All publishers of the category."""
        return category_wildcard(self.config.category)

    @property
    def subscribe_queue(self) -> str:
        """The bare category unless `queue` is set."""
        return str(self.config.queue or self.config.category)

    def process(self, payload: Any) -> Any:
        """Consume one item (plugins implement this; may be async)."""
        raise NotImplementedError

    def decode(self, msg: Msg) -> list[Any] | None:
        """JSON items, or the text itself with `json: false` (a frame message, named by its header, is frames)."""
        if not self.config.json and not (msg.headers and ENCODING_HEADER in msg.headers):
            try:
                return [msg.data.decode()]
            except UnicodeDecodeError as e:
                self.stats.dropped += 1
                self.log("error", f"Dropped non-UTF-8 message on {msg.subject}: {e}")
                return None
        return super().decode(msg)

    async def consume(self, payload: Any, subject: str) -> bool:
        """Run `process` (awaited, or in a thread with `offload: true`); False when it failed."""
        try:
            if self.config.offload and not inspect.iscoroutinefunction(self.process):
                result = await asyncio.to_thread(self.process, payload)
            else:
                result = self.process(payload)
            if inspect.isawaitable(result):
                await result
            return True
        except Exception as e:
            self.log_exception(e, f"Error processing message from {subject}")
            return False

    async def handle_items(self, items: list[Any], subject: str) -> list[tuple[str, Any]]:
        """Aggregators publish nothing."""
        plain = self.__dict__.get("_plain_sync")
        if plain is None:
            plain = not self.config.offload and not inspect.iscoroutinefunction(self.process)
            self.__dict__["_plain_sync"] = plain
        if plain:
            process = self.process
            # hot path: a sync process, no per-item coroutine; in durable mode log_exception re-raises, as in consume
            for payload in items:
                try:
                    result = process(payload)
                    if result is not None and inspect.isawaitable(result):
                        await result
                except Exception as e:
                    self.log_exception(e, f"Error processing message from {subject}")
            return []
        for payload in items:
            if not await self.consume(payload, subject) and self.delivery.redelivers:
                raise RuntimeError(f"{self._log_name}: process failed")
        return []

"""Connector bases: fetch data for task batches (pull) or push external events (listen)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.role import RoleBase
from karez.routing import META_KEY, route
from karez.subjects import DEFAULT_CATEGORY
from karez.utils import resolve_items


def converter_targets(role: RoleBase) -> list[Any]:
    """The `converter` key as a list (a string is one name; `converters` is an alias)."""
    value = role.raw_config.get("converter") if role.is_configured("converter") else None
    if value is None and role.is_configured("converters"):
        value = role.raw_config.get("converters")
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


class ConnectorBase(RoleBase):
    """Base of connectors: gives items a category and routes them to converters or aggregators."""

    TYPE = "connector"

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """`converter` list (null entries mean "to aggregators")."""
        yield from super().config_entities()
        yield OptionalConfigEntity("converter", None, "Converter names to send items to")
        yield OptionalConfigEntity("converters", None, "Alias of converter")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the `converter` targets, null meaning the aggregators: read once, every batch is routed by them
        self.targets: list[str | None] = converter_targets(self) or [None]

    def routes(self, item: Any) -> list[tuple[str, Any]]:
        """Subjects for one fetched item (fan-out over `converter`)."""
        if not isinstance(item, dict):
            raise TypeError(f"items must be dicts, got {type(item).__name__}")
        category = self.get_meta(item, "category") or DEFAULT_CATEGORY
        self.update_meta(item, category=category)
        return route([item], self.targets, self.name)

    async def postprocess_item(self, item: dict[str, Any], publish: bool = True, flush: bool = False) -> dict[str, Any]:
        """Set the category and publish the item to its targets."""
        outputs = self.routes(item)
        if publish:
            await self.emit(outputs)
            if flush:
                await self.flush()
        return item


class PullConnectorBase(ConnectorBase):
    """A connector driven by task messages from a dispatcher."""

    @property
    def listens(self) -> bool:
        """Pull connectors subscribe to their subject."""
        return True

    def create_client(self) -> Any:
        """An async context manager giving the client passed to `fetch_data`."""
        return contextlib.nullcontext()

    async def fetch_data(self, client: Any, entities: list[Any]) -> Any:
        """Fetch items for a batch of entities (plugins implement this)."""
        raise NotImplementedError

    async def process(self, tasks: list[Any]) -> list[Any]:
        """Fetched items for the tasks (None dropped); an error loses the batch and is logged."""
        try:
            client_cm = self.create_client()
            if hasattr(client_cm, "__aenter__"):
                async with client_cm as client:
                    items = await resolve_items(self.fetch_data(client, tasks))
            else:
                with client_cm as client:
                    items = await resolve_items(self.fetch_data(client, tasks))
        except Exception as e:
            self.log_exception(e, f"Error fetching data for {len(tasks)} tasks")
            return []
        return [item for item in items if item is not None]

    async def handle_items(self, items: list[Any], subject: str) -> list[tuple[str, Any]]:
        """Task messages in, routed items out."""
        outputs: list[tuple[str, Any]] = []
        for message in items:
            if not isinstance(message, dict) or not isinstance(message.get("tasks"), list):
                self.stats.dropped += 1
                self.log("error", f"Dropped a message on {subject}: expected {{'tasks': [...]}}")
                continue
            items_ok = []
            for item in await self.process(message["tasks"]):
                if type(item) is not dict and not isinstance(item, dict):
                    self.log_exception(TypeError(f"items must be dicts, got {type(item).__name__}"), subject)
                    continue
                meta = item.get(META_KEY)
                if meta is None:
                    item[META_KEY] = {"category": DEFAULT_CATEGORY}
                elif not meta.get("category"):
                    meta["category"] = DEFAULT_CATEGORY
                items_ok.append(item)
            outputs += self._route_all(items_ok)
        return outputs

    def _route_all(self, items: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        """Fan items out to every `converter` target (null: the aggregator subject of its category)."""
        return route(items, self.targets, self.name)


class ListenConnectorBase(ConnectorBase):
    """A connector that pushes items when external events arrive (no dispatcher)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_listening = False
        self.testing_mode = False
        self.testing_result: Any = None
        self._testing_done: asyncio.Event | None = None

    async def register_listener(self) -> None:
        """Start listening to the external source (plugins implement this)."""
        raise NotImplementedError

    async def wait_forever(self) -> None:
        """Block while listening."""
        await asyncio.Event().wait()

    def parse_payload(self, payload: Any) -> Any:
        """Turn an external payload into items."""
        return payload

    def finish_testing(self, result: Any) -> None:
        """In test mode, hand back the first result and stop."""
        self.testing_result = result
        if self._testing_done is not None:
            self._testing_done.set()

    async def process(self, _: Any = None) -> Any:
        """Run the listener in test mode until `finish_testing` is called."""
        self.testing_mode = True
        self._testing_done = asyncio.Event()
        await self.register_listener()
        self.is_listening = True
        await self._testing_done.wait()
        return self.testing_result

    async def run(self) -> None:
        """Connect, register the listener, then wait forever."""
        await self.start()
        if not self.is_listening:
            await self.register_listener()
            self.is_listening = True
        await self.wait_forever()

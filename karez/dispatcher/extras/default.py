"""The `default` dispatcher: entities inline or from a JSON file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.dispatcher.base import DispatcherBase


class Dispatcher(DispatcherBase):
    """Dispatches entities listed inline (`entities`) or in a JSON file (`entity_file`)."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Entity sources."""
        yield from super().config_entities()
        yield OptionalConfigEntity("entities", None, "Inline list of entities")
        yield OptionalConfigEntity("entity_file", None, "Path to a JSON array of entities, re-read each round")

    async def load_entities(self) -> list[Any]:
        """Inline entities win; else the file; else an error."""
        if self.is_configured("entities"):
            return list(self.config.entities or [])
        if self.is_configured("entity_file"):
            path = self.config.entity_file
            try:
                with open(path, "rb") as f:
                    entities: list[Any] = orjson.loads(f.read())
                    return entities
            except orjson.JSONDecodeError as e:
                raise ValueError(f"{path}: not a JSON array: {e}") from e
        raise RuntimeError("Cannot load entities.")

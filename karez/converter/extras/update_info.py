"""The `update_info` converter: add fields looked up in a JSON file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import orjson

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.converter.base import ConverterBase


class Converter(ConverterBase):
    """Updates each item with `info[item[key]]` from a JSON file (reloaded when its mtime changes)."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Info file, lookup key and keys to remove."""
        yield from super().config_entities()
        yield ConfigEntity("info_file", "JSON object: lookup value → extra fields")
        yield ConfigEntity("key", "Item key whose value is looked up")
        yield OptionalConfigEntity("remove", None, "Keys to delete: comma-separated string or list")

    def load_info(self) -> dict[str, Any]:
        """The info file's content, cached by modification time."""
        path = self.config.info_file
        mtime = os.stat(path).st_mtime_ns
        if self.__dict__.get("_info_mtime") != mtime:
            with open(path, "rb") as f:
                try:
                    self.__dict__["_info"] = orjson.loads(f.read())
                except orjson.JSONDecodeError as e:
                    raise ValueError(f"{path}: invalid JSON: {e}") from e
            self.__dict__["_info_mtime"] = mtime
        info: dict[str, Any] = self.__dict__["_info"]
        return info

    def removed_keys(self) -> list[str]:
        """`remove` as a list of stripped names."""
        remove = self.config.remove
        if not remove:
            return []
        parts = remove.split(",") if isinstance(remove, str) else list(remove)
        return [str(p).strip() for p in parts if str(p).strip()]

    def convert(self, payload: dict[str, Any]) -> Any:
        """Yield the payload updated with its info entry."""
        payload.update(self.load_info()[payload[self.config.key]])
        for key in self.removed_keys():
            payload.pop(key, None)
        yield payload

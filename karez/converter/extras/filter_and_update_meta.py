"""The `filter_and_update_meta` converter: filter on a meta value and rename the category."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.converter.base import ConverterBase, objects_only
from karez.routing import ensure_meta


class Converter(ConverterBase):
    """Keeps items whose meta `key` value is in `filter` and maps it through `rename` to a new category."""

    FRAMES = True  # it reads and writes meta only: a frame is kept or dropped whole, its meta renamed once

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Meta key, default, filter and rename map."""
        yield from super().config_entities()
        yield OptionalConfigEntity("key", None, "Meta key to test")
        yield OptionalConfigEntity("default", None, "Value when the meta key is missing")
        yield OptionalConfigEntity("filter", None, "Allowed values: list or comma-separated string")
        yield OptionalConfigEntity("rename", {}, "Map from value to new category")

    def allowed(self) -> set[Any] | None:
        """The filter as a set (None: keep everything)."""
        return self._allowed

    @cached_property
    def _allowed(self) -> set[Any] | None:
        raw = self.config.filter
        if raw is None or raw == []:
            return None
        if isinstance(raw, str):
            return set(raw.split(",")) if "," in raw else {raw}
        return set(raw)

    @cached_property
    def _plan(self) -> tuple[Any, Any, set[Any] | None, dict[Any, Any]]:
        cfg = self.config
        return (cfg.key, cfg.default, self._allowed, dict(cfg.rename or {}))

    def keep(self, payload: dict[str, Any]) -> bool:
        """Whether the payload passes the filter; applies the rename to its category in place."""
        key, default, allowed, rename = self._plan
        meta = payload.get("_karez")
        value = meta.get(key, default) if (meta and key is not None) else default
        if allowed is not None and value not in allowed:
            return False
        if rename:
            try:
                new = rename.get(value)
            except TypeError:  # unhashable meta value
                new = None
            if new is not None:
                if meta is None:
                    meta = payload["_karez"] = {}
                meta["category"] = new
        return True

    def convert(self, payload: dict[str, Any]) -> Any:
        """Yield the payload unless filtered out; rename writes the category."""
        if self.keep(payload):
            yield payload

    def convert_batch(self, payloads: list[Any], subject: str = "") -> list[Any]:
        """Batch form of `convert`: the kept objects, in place; an item whose test fails is logged and dropped."""
        keep = self.keep
        kept = []
        for payload in objects_only(self, payloads, subject):
            try:
                if keep(payload):
                    kept.append(payload)
            except Exception as e:
                self.log_exception(e, f"Error converting message from {subject}")
        return ensure_meta(kept)

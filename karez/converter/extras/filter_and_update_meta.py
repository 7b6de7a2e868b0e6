"""The `filter_and_update_meta` converter: filter on a meta value and rename the category."""

from __future__ import annotations

from typing import Any

from karez.config import OptionalConfigEntity
from karez.converter.base import ConverterBase


class Converter(ConverterBase):
    """Keeps items whose meta `key` value is in `filter` and maps it through `rename` to a new category."""

    @classmethod
    def config_entities(cls):
        """Meta key, default, filter and rename map."""
        yield from super().config_entities()
        yield OptionalConfigEntity("key", None, "Meta key to test")
        yield OptionalConfigEntity("default", None, "Value when the meta key is missing")
        yield OptionalConfigEntity("filter", None, "Allowed values: list or comma-separated string")
        yield OptionalConfigEntity("rename", {}, "Map from value to new category")

    def allowed(self) -> set[Any] | None:
        """The filter as a set (None: keep everything); cached."""
        if "_allowed" not in self.__dict__:
            raw = self.config.filter
            if raw is None or raw == []:
                allowed = None
            elif isinstance(raw, str):
                allowed = set(raw.split(",")) if "," in raw else {raw}
            else:
                allowed = set(raw)
            self.__dict__["_allowed"] = allowed
        return self.__dict__["_allowed"]

    def convert(self, payload: dict) -> Any:
        """Yield the payload unless filtered out; rename writes the category."""
        cfg = self.config
        key, default = cfg.key, cfg.default
        meta = payload.get("_karez") or {}
        value = meta.get(key, default) if key is not None else default
        allowed = self.allowed()
        if allowed is not None and value not in allowed:
            return
        rename = cfg.rename or {}
        if isinstance(value, str | int | float | bool) and value in rename:
            self.update_meta(payload, category=rename[value])
        yield payload

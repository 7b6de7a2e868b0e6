"""The `influx_json_format` converter: shape items for Telegraf's JSON input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.converter.base import ConverterBase


class Converter(ConverterBase):
    """Adds `_measurement` and optionally moves the value under a field name taken from the item."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Measurement and field selection."""
        yield from super().config_entities()
        yield ConfigEntity("measurement", "Measurement name")
        yield OptionalConfigEntity("field_name", None, "Key whose value is the field name")
        yield OptionalConfigEntity("field_value", "value", "Key holding the field value")

    def convert(self, payload: dict[str, Any]) -> Any:
        """Yield the reshaped payload (a field named like the value key keeps its value: upstream bug fixed)."""
        payload["_measurement"] = self.config.measurement
        field_name, field_value = self.config.field_name, self.config.field_value
        if field_name:
            name = payload[field_name]
            value = payload.pop(field_value)
            payload.pop(field_name, None)
            payload[name] = value
        yield payload

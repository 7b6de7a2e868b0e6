"""The `influx_line_protocol` converter: items to raw InfluxDB line protocol (`_as_is`)."""

from __future__ import annotations

from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.converter.base import ConverterBase
from karez.line_protocol import encode_line


def item_to_line(payload: dict, measurement: str, field_name: str | None, field_value: str) -> str:
    """Line of one item: upstream field/tag rules, timestamp (seconds) → ns; mutates the item like upstream."""
    time_ns = int(payload.pop("timestamp") * 1e9)
    if field_name:
        key = payload[field_name]
        value = payload.pop(field_value)
        payload.pop(field_name, None)
    else:
        key = "value"
        value = payload.pop(field_value)
    tags = {k: v for k, v in payload.items() if k[:1] != "_"}
    return encode_line(measurement, tags, key, value, time_ns)


class Converter(ConverterBase):
    """Converts an item into one InfluxDB line (published raw; batches join lines with newlines)."""

    @classmethod
    def config_entities(cls):
        """Measurement and field selection."""
        yield from super().config_entities()
        yield ConfigEntity("measurement", "Measurement name")
        yield OptionalConfigEntity("field_name", None, "Key whose value is the field name (default: 'value')")
        yield OptionalConfigEntity("field_value", "value", "Key holding the field value")

    def convert(self, payload: dict) -> Any:
        """Yield `{"_as_is": line}`."""
        cfg = self.config
        yield {"_as_is": item_to_line(payload, cfg.measurement, cfg.field_name, cfg.field_value)}

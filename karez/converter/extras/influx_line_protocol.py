"""The `influx_line_protocol` converter: items to raw InfluxDB line protocol (`_as_is`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.converter.base import ConverterBase
from karez.routing import META_KEY
from line_protocol_text import ItemLineEncoder, encode_line, take_field


def item_to_line(payload: dict[str, Any], measurement: str, field_name: str | None, field_value: str) -> str:
    """Line of one item: upstream field/tag rules, timestamp (seconds) → ns; mutates the item like upstream."""
    time_ns, key, value = take_field(payload, field_name, field_value)
    tags = {k: v for k, v in payload.items() if k[:1] != "_"}
    return encode_line(measurement, tags, key, value, time_ns)


class Converter(ConverterBase):
    """Converts an item into one InfluxDB line (published raw; batches join lines with newlines)."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Measurement and field selection."""
        yield from super().config_entities()
        yield ConfigEntity("measurement", "Measurement name")
        yield OptionalConfigEntity("field_name", None, "Key whose value is the field name (default: 'value')")
        yield OptionalConfigEntity("field_value", "value", "Key holding the field value")

    _encoder: ItemLineEncoder | None = None  # made from the config on first use

    def convert(self, payload: dict[str, Any]) -> Any:
        """Yield `{"_as_is": line}`."""
        cfg = self.config
        yield {"_as_is": item_to_line(payload, cfg.measurement, cfg.field_name, cfg.field_value)}

    def convert_batch(self, payloads: list[Any], subject: str = "") -> list[Any]:
        """The lines of a batch: what `convert` gives per item, without a generator and a meta copy per item."""
        encoder = self._encoder
        if encoder is None:
            cfg = self.config
            encoder = self._encoder = ItemLineEncoder(cfg.measurement, cfg.field_name, cfg.field_value)
        line_of = encoder.line
        lines: list[dict[str, Any]] = []
        append = lines.append
        for payload in payloads:
            if payload.__class__ is not dict:
                self.drop_non_object(subject)
                continue
            try:
                line = line_of(payload)
            except Exception as e:
                self.log_exception(e, f"Error converting message from {subject}")
                continue
            meta = payload.get(META_KEY)  # the payload is dropped now: its meta moves to the line unchanged
            append({"_as_is": line, META_KEY: meta if meta.__class__ is dict else {}})
        return lines

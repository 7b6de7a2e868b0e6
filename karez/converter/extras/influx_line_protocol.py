"""The `influx_line_protocol` converter: items to raw InfluxDB line protocol (`_as_is`)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.converter.base import ConverterBase
from karez.frame_lines import FrameLineEncoder
from karez.frames import is_frame, rows_with_meta
from karez.routing import META_KEY
from line_protocol_text import ItemLineEncoder, encode_line, take_field


def item_to_line(payload: dict[str, Any], measurement: str, field_name: str | None, field_value: str) -> str:
    """Line of one item: upstream field/tag rules, timestamp (seconds) → ns; mutates the item like upstream."""
    time_ns, key, value = take_field(payload, field_name, field_value)
    tags = {k: v for k, v in payload.items() if k[:1] != "_"}
    return encode_line(measurement, tags, key, value, time_ns)


BLOCK_BYTES = 256 * 1024  # a text item's size: a message of one item must stay under NATS' max_payload (1 MiB)


def _blocks(lines: list[str]) -> list[str]:
    """Lines joined into texts of about BLOCK_BYTES each (a line is never split)."""
    if not lines:
        return []
    size = sum(map(len, lines)) + len(lines)
    if size <= BLOCK_BYTES:
        return ["\n".join(lines)]
    per_block = max(1, len(lines) * BLOCK_BYTES // size)
    return ["\n".join(lines[start : start + per_block]) for start in range(0, len(lines), per_block)]


def _text_blocks(text: str) -> list[str]:
    """Newline-separated lines cut into texts of at most BLOCK_BYTES characters each (a longer line alone)."""
    blocks = []
    start, end = 0, len(text)
    while end - start > BLOCK_BYTES:
        cut = text.rfind("\n", start, start + BLOCK_BYTES)
        if cut < 0:
            cut = text.find("\n", start + BLOCK_BYTES)
            if cut < 0:
                break
        blocks.append(text[start:cut])
        start = cut + 1
    blocks.append(text[start:])
    return blocks


class Converter(ConverterBase):
    """Converts an item into one InfluxDB line (published raw; batches join lines with newlines)."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Measurement and field selection."""
        yield from super().config_entities()
        yield ConfigEntity("measurement", "Measurement name")
        yield OptionalConfigEntity("field_name", None, "Key whose value is the field name (default: 'value')")
        yield OptionalConfigEntity("field_value", "value", "Key holding the field value")

    def convert(self, payload: dict[str, Any]) -> Any:
        """Yield `{"_as_is": line}`."""
        cfg = self.config
        yield {"_as_is": item_to_line(payload, cfg.measurement, cfg.field_name, cfg.field_value)}

    FRAMES = True

    def convert_batch(self, payloads: list[Any], subject: str = "") -> list[Any]:
        """The lines of a batch: what `convert` gives per item, without a generator and a meta copy per item; with
        `frames`, the lines of a frame's rows as text items of about 256 kB."""
        if self.frames_encoding is None or not payloads or not is_frame(payloads[0]):
            return self._lines(payloads, subject)
        blocks: list[dict[str, Any]] = []
        rest: list[Any] = []
        for item in payloads:
            if is_frame(item):
                meta = item.get(META_KEY) or {}
                blocks += ({"_as_is": text, META_KEY: meta} for text in self._frame_blocks(item, subject))
            else:
                rest.append(item)
        return blocks + self._lines(rest, subject)

    def _frame_blocks(self, frame: dict[str, Any], subject: str) -> list[str]:
        """The lines of a frame's rows (`karez.frame_lines`) in texts of about BLOCK_BYTES; the rows that cannot be
        written are reported, the others written."""
        encoder = self.frame_encoder
        if not encoder.can_encode(frame):  # the rows themselves say what is wrong
            return _blocks([line["_as_is"] for line in self._lines(rows_with_meta(frame), subject)])
        encoded = encoder.encode(frame)
        for row, error in encoded.failed:
            self.log_exception(error, f"Error converting row {row} of a frame from {subject}")
        if encoded.text is not None:
            return _text_blocks(encoded.text) if encoded.text else []
        return _blocks(encoded.lines)

    @cached_property
    def frame_encoder(self) -> FrameLineEncoder:
        """The frame encoder of this converter's measurement and field keys (each series' head remembered)."""
        cfg = self.config
        return FrameLineEncoder(cfg.measurement, cfg.field_name, cfg.field_value)

    @property
    def encoder(self) -> ItemLineEncoder:
        """The per-item encoder of this converter's measurement and field keys (made on first use)."""
        return self.frame_encoder.items

    def _lines(self, payloads: list[Any], subject: str) -> list[dict[str, Any]]:
        """`{"_as_is": line}` of each per-item object, its meta moved along."""
        line_of = self.encoder.line
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

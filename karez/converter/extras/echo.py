"""The `echo` converter: pass items through unchanged (handy for wiring and benchmarks)."""

from __future__ import annotations

from typing import Any

from karez.converter.base import ConverterBase


class Converter(ConverterBase):
    """Yields every item unchanged."""

    def convert(self, payload: dict) -> Any:
        """Yield the payload."""
        yield payload

    def convert_many(self, payloads: list[dict], subject: str = "") -> list[dict]:
        """Batch form: every payload, unchanged."""
        return payloads

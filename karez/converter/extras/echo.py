"""The `echo` converter: pass items through unchanged (handy for wiring and benchmarks)."""

from __future__ import annotations

from typing import Any

from karez.converter.base import ConverterBase, objects_only
from karez.routing import ensure_meta


class Converter(ConverterBase):
    """Yields every item unchanged."""

    FRAMES = True  # a frame passes unchanged too

    def convert(self, payload: dict[str, Any]) -> Any:
        """Yield the payload."""
        yield payload

    def convert_batch(self, payloads: list[Any], subject: str = "") -> list[Any]:
        """Batch form: every object unchanged (its meta made present), in place."""
        kept = objects_only(self, payloads, subject)
        return ensure_meta(kept)

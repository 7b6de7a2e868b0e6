"""Test converter: a little blocking work per item, so a cancellation lands mid-stream."""

import time

from karez.converter.base import ConverterBase


class Converter(ConverterBase):
    """Passes each item on to the `numbers` category after ~3 ms of work."""

    def convert(self, payload):
        time.sleep(0.003)  # simulated work, not synchronisation
        yield {**payload, "_karez": {"category": "numbers"}}

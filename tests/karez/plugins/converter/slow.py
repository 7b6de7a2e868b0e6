"""Test converter that takes a little time per item (to be interrupted mid-stream)."""

import time

from karez.config import OptionalConfigEntity
from karez.converter.base import ConverterBase


class Converter(ConverterBase):
    """Passes items through after `delay` seconds of blocking work."""

    @classmethod
    def config_entities(cls):
        yield from super().config_entities()
        yield OptionalConfigEntity("delay", 0.002, "Seconds of work per item")

    def convert(self, payload):
        time.sleep(self.config.delay)  # simulated CPU work, not synchronisation
        yield payload

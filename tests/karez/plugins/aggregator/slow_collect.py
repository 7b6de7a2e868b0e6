"""Test aggregator that takes a while per item and remembers every item it got (redeliveries included)."""

import asyncio

from karez.aggregator.base import AggregatorBase
from karez.config import OptionalConfigEntity


class Aggregator(AggregatorBase):
    """Collects items in memory after `delay` seconds each."""

    @classmethod
    def config_entities(cls):
        yield from super().config_entities()
        yield OptionalConfigEntity("delay", 0.2, "Seconds per item")

    async def process(self, payload):
        await asyncio.sleep(self.config.delay)
        self.__dict__.setdefault("items", []).append(payload)

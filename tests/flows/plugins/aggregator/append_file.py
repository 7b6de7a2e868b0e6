"""Test aggregator: appends each item's `n` to a file (one line per item)."""

from karez.aggregator.base import AggregatorBase
from karez.config import ConfigEntity


class Aggregator(AggregatorBase):
    """Writes `n` of every item to `path`."""

    @classmethod
    def config_entities(cls):
        yield from super().config_entities()
        yield ConfigEntity("path", "File to append to")

    def process(self, payload):
        with open(self.config.path, "a") as out:
            out.write(f"{payload['n']}\n")

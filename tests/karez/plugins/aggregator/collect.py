"""Test aggregator with an instance-method `config_entities` (like Tiro's ArangoAggregator)."""

from karez.aggregator.base import AggregatorBase
from karez.config import ConfigEntity


class Aggregator(AggregatorBase):
    """Collects items in memory."""

    def config_entities(self):
        yield from super().config_entities()
        yield ConfigEntity("db_name", "Database")

    def process(self, payload):
        self.__dict__.setdefault("items", []).append(payload)

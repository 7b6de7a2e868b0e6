"""Test dispatcher with the same stem as the connector `numbers`."""

from karez.config import OptionalConfigEntity
from karez.dispatcher.base import DispatcherBase

KIND = "dispatcher"


class Dispatcher(DispatcherBase):
    """Dispatches range(count)."""

    @classmethod
    def config_entities(cls):
        yield from super().config_entities()
        yield OptionalConfigEntity("count", 3, "How many numbers")

    async def load_entities(self):
        return list(range(self.config.count))

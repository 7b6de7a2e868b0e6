"""Test aggregator that must see every message (ONE_WORKER): logs the pid of the process that got each item."""

import os

from karez.aggregator.base import AggregatorBase
from karez.config import ConfigEntity


class Aggregator(AggregatorBase):
    """Appends `<pid>` per item to `log`."""

    ONE_WORKER = True

    @classmethod
    def config_entities(cls):
        yield from super().config_entities()
        yield ConfigEntity("log", "File that gets one line per item")

    def process(self, payload):
        with open(self.config.log, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")

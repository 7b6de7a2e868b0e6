"""Built-in aggregators."""

from karez.aggregator.extras.echo import Aggregator as EchoAggregator

PLUGINS = {"echo": EchoAggregator}

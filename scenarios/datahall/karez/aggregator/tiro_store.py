from tiro.plugins.karez import TiroStoreAggregator as Aggregator

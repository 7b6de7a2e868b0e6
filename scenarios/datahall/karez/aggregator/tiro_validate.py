from tiro.plugins.karez import ValidationAggregator as Aggregator

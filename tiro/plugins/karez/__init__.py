"""Tiro's Karez roles, importable the Tiro 0.13 way: `from tiro.plugins.karez import X as Connector`."""

from tiro.plugins.karez.arango import ArangoAggregator
from tiro.plugins.karez.influx_writer import InfluxWriterAggregator
from tiro.plugins.karez.mock_collector import ConnectorForMockServer, DispatcherForMockServer
from tiro.plugins.karez.preprocess import (
    TiroFilterByReferenceConverter,
    TiroPreprocessConverter,
    TiroUpdateInfoForValueConverter,
)
from tiro.plugins.karez.store_aggregator import TiroStoreAggregator
from tiro.plugins.karez.validate_aggregator import ValidationAggregator

__all__ = [
    "ArangoAggregator",
    "ConnectorForMockServer",
    "DispatcherForMockServer",
    "InfluxWriterAggregator",
    "TiroFilterByReferenceConverter",
    "TiroPreprocessConverter",
    "TiroStoreAggregator",
    "TiroUpdateInfoForValueConverter",
    "ValidationAggregator",
]

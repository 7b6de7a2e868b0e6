"""Aggregators: terminal sinks."""

from karez.aggregator.base import AggregatorBase

__all__ = ["AggregatorBase"]

"""Converters: transform items between connectors and aggregators."""

from karez.converter.base import ConverterBase

__all__ = ["ConverterBase"]

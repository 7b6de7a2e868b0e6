"""Test converter that fails on items marked poison."""

from karez.converter.base import ConverterBase


class BadItem(ValueError):
    """The item itself is bad: durable mode dead-letters it without further deliveries."""

    data_error = True


class Converter(ConverterBase):
    """Raises on `{"poison": true}` (`{"poison": "data"}`: a data error), passes other items."""

    def convert(self, payload):
        if payload.get("poison") == "data":
            raise BadItem("item is bad data")
        if payload.get("poison"):
            raise ValueError("poisoned item")
        yield payload

"""Test converter that fails on items marked poison."""

from karez.converter.base import ConverterBase


class Converter(ConverterBase):
    """Raises on `{"poison": true}`, passes other items."""

    def convert(self, payload):
        if payload.get("poison"):
            raise ValueError("poisoned item")
        yield payload

"""Test converter: crashes the first time it runs, then passes items through."""

from karez.converter.base import ConverterBase


class Converter(ConverterBase):
    """Raises once from run() so the runtime restarts it."""

    def convert(self, payload):
        yield payload

    async def run(self):
        if not type(self).__dict__.get("crashed"):
            type(self).crashed = True
            raise RuntimeError("crashing once on purpose")
        await super().run()

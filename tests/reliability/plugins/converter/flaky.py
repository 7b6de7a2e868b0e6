"""A converter whose destination is "unreachable" for the first `fail_times` deliveries of each item."""

from collections import Counter

from karez.converter.base import ConverterBase


class DestinationDown(RuntimeError):
    """What a store client raises while its server is down: the message is fine, retrying later will work."""

    retryable = True


class Converter(ConverterBase):
    """Raises DestinationDown for an item until it has been seen `fail_times` times, then passes it on."""

    seen: Counter = Counter()

    def convert(self, payload):
        """Fail the first deliveries of each item id, then forward it."""
        self.seen[payload["id"]] += 1
        if self.seen[payload["id"]] <= payload["fail_times"]:
            raise DestinationDown(f"destination down (delivery {self.seen[payload['id']]})")
        yield payload

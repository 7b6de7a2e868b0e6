"""Test connector: each entity (an int) becomes an item."""

from karez.connector.base import PullConnectorBase


class Connector(PullConnectorBase):
    """Turns integer entities into items."""

    async def fetch_data(self, client, entities):
        return [{"n": e, "value": e * 1.5, "timestamp": 1700000000 + e} for e in entities]

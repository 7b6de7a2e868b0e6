"""Connectors: fetch data from external systems."""

from karez.connector.base import ConnectorBase, ListenConnectorBase, PullConnectorBase
from karez.connector.restful import RestfulConnectorBase

__all__ = ["ConnectorBase", "ListenConnectorBase", "PullConnectorBase", "RestfulConnectorBase"]

"""`RestfulConnectorBase`: a pull connector with one reused httpx client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from karez.connector.base import PullConnectorBase
from karez.role import RestfulRoleMixin


class RestfulConnectorBase(PullConnectorBase, RestfulRoleMixin):
    """Pull connector for REST APIs; `fetch_data(client, entities)` gets the shared httpx client."""

    @contextlib.asynccontextmanager
    async def _shared_client(self) -> AsyncIterator[Any]:
        yield self.http_client

    def create_client(self) -> Any:
        """The role's one httpx.AsyncClient, reused across batches (not closed per batch)."""
        return self._shared_client()

    async def close(self) -> None:
        """Close the HTTP client and the NATS connection."""
        await self.close_http_client()
        await super().close()

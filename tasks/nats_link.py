"""Short-lived NATS connections for tasks: fail fast with the address in the message instead of retrying forever."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats

from karez.nats_options import NatsOptions


class NatsUnavailable(ConnectionError):
    """NATS could not be reached at the given address."""


@asynccontextmanager
async def nats_connection(url: str, *, name: str = "tiro-task") -> AsyncIterator[Any]:
    """A connected nats-py client for `url` (credentials in the URL are honoured), closed on exit."""
    options = NatsOptions.from_environment(url)
    kwargs = {**options.connect_kwargs(), "max_reconnect_attempts": 2, "allow_reconnect": True}
    try:
        nc = await nats.connect(name=name, **kwargs)
    except Exception as e:
        raise NatsUnavailable(f"cannot connect to NATS at {options.display()}: {type(e).__name__}: {e}") from e
    try:
        yield nc
    finally:
        await nc.close()

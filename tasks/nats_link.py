"""Short-lived NATS connections for tasks: fail fast with the address in the message instead of retrying forever."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import nats

from karez.nats_options import NatsOptions

logger = logging.getLogger("tiro.nats")


class NatsUnavailable(ConnectionError):
    """NATS could not be reached at the given address."""


def _error_logger(connected: list[bool]) -> Callable[[Exception], Awaitable[None]]:
    """An error callback logging one line per error (nats-py's default logs each one with its whole traceback);
    failed first attempts only at debug level, since NatsUnavailable sums them up."""

    async def log(error: Exception) -> None:
        level = logging.WARNING if connected else logging.DEBUG
        logger.log(level, "NATS error: %s: %s", type(error).__name__, error)

    return log


@asynccontextmanager
async def nats_connection(url: str, *, name: str = "tiro-task") -> AsyncIterator[Any]:
    """A connected nats-py client for `url` (credentials in the URL are honoured), closed on exit."""
    options = NatsOptions.from_environment(url)
    kwargs = {**options.connect_kwargs(), "max_reconnect_attempts": 2, "allow_reconnect": True}
    connected: list[bool] = []
    try:
        nc = await nats.connect(name=name, error_cb=_error_logger(connected), **kwargs)
    except Exception as e:
        raise NatsUnavailable(f"cannot connect to NATS at {options.display()}: {type(e).__name__}: {e}") from e
    connected.append(True)
    try:
        yield nc
    finally:
        await nc.close()

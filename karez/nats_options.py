"""Where and how to connect to NATS: address resolution, credentials, TLS, reconnect-forever options."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("karez")

DEFAULT_NATS_ADDR = "nats://localhost:4222"


def resolve_address(cli_value: str | None = None, environ: dict[str, str] | None = None) -> str:
    """`-a` value, else `KAREZ_NATS_ADDR`, else `NATS_URL`, else nats://localhost:4222."""
    env = os.environ if environ is None else environ
    return cli_value or env.get("KAREZ_NATS_ADDR") or env.get("NATS_URL") or DEFAULT_NATS_ADDR


class NatsAuthError(ConnectionError):
    """The NATS server refused the credentials (user/password, token or creds) when connecting."""


def redact_server(url: str) -> str:
    """A server URL without its user info (which may hold a password or token)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()


def split_servers(address: str) -> list[str]:
    """A comma-separated server list as a list of URLs (`host:port` gets the nats:// scheme)."""
    servers = [part.strip() for part in address.split(",") if part.strip()]
    return [s if "://" in s else f"nats://{s}" for s in servers]


@dataclass
class NatsOptions:
    """Connection settings shared by every role of a deploy process."""

    servers: list[str] = field(default_factory=lambda: [DEFAULT_NATS_ADDR])
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    reconnect_wait: float = 1.0

    @classmethod
    def from_address(cls, address: str | None, **kwargs: Any) -> NatsOptions:
        """Options for an address string (possibly a comma-separated list)."""
        return cls(servers=split_servers(address or DEFAULT_NATS_ADDR), **kwargs)

    def display(self) -> str:
        """The address as printed by `karez deploy` (no secrets)."""
        return ",".join(redact_server(server) for server in self.servers)

    def tls_context(self) -> ssl.SSLContext | None:
        """An SSL context when a CA or client certificate is configured."""
        if not (self.tls_ca or self.tls_cert):
            return None
        ctx = ssl.create_default_context(cafile=self.tls_ca)
        if self.tls_cert:
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        return ctx

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `nats.connect`, reconnecting forever."""
        kwargs: dict[str, Any] = {
            "servers": self.servers,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": self.reconnect_wait,
            "allow_reconnect": True,
            "connect_timeout": 2,
        }
        if self.user is not None:
            kwargs["user"] = self.user
            kwargs["password"] = self.password
        if self.token is not None:
            kwargs["token"] = self.token
        if self.creds_file is not None:
            kwargs["user_credentials"] = self.creds_file
        ctx = self.tls_context()
        if ctx is not None:
            kwargs["tls"] = ctx
        return kwargs


Callback = Callable[..., Awaitable[None]]


def _is_auth_error(e: BaseException) -> bool:
    text = str(e).lower()
    return "authorization violation" in text or "authentication" in text or "user authentication expired" in text


async def connect(options: NatsOptions, name: str, **callbacks: Callback) -> Any:
    """Open a nats-py client that never gives up reconnecting; NatsAuthError when the server refuses the credentials.

    nats-py retries a refused first connection forever when reconnects are unlimited, so a wrong password would hang
    silently; refusals before the first successful connection are therefore fatal, later ones are retried.
    """
    import nats

    refused: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    user_error_cb = callbacks.pop("error_cb", None)
    connected = False

    async def error_cb(e: Exception) -> None:
        if not connected and _is_auth_error(e):
            if not refused.done():
                refused.set_result(e)
            return
        if user_error_cb is not None:
            await user_error_cb(e)
        else:
            logger.warning("NATS error: %s: %s", type(e).__name__, e)

    nc = nats.NATS()
    attempt = asyncio.ensure_future(nc.connect(name=name, **options.connect_kwargs(), error_cb=error_cb, **callbacks))
    await asyncio.wait({attempt, refused}, return_when=asyncio.FIRST_COMPLETED)
    if attempt.done():
        refused.cancel()
        attempt.result()
        connected = True
        return nc
    attempt.cancel()
    await asyncio.gather(attempt, return_exceptions=True)
    await nc.close()
    raise NatsAuthError(f"NATS server {options.display()} refused the credentials ({refused.result()})")

"""Where and how to connect to NATS: address resolution, credentials (password, token, nkey, creds), TLS, reconnects."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("karez")

DEFAULT_NATS_ADDR = "nats://localhost:4222"


def resolve_address(cli_value: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """`-a` value, else `KAREZ_NATS_ADDR`, else `NATS_URL`, else nats://localhost:4222."""
    env = os.environ if environ is None else environ
    return cli_value or env.get("KAREZ_NATS_ADDR") or env.get("NATS_URL") or DEFAULT_NATS_ADDR


class NatsAuthError(ConnectionError):
    """The NATS server refused the credentials (user/password, token, nkey or creds) when connecting."""


class NatsCredentialsError(NatsAuthError):
    """A creds or nkey seed file cannot be used; found before connecting, and the message never shows its content."""


JWT_MARKER, SEED_MARKER = b"BEGIN NATS USER JWT", b"BEGIN USER NKEY SEED"
KEY_ROLES = {b"O": "operator", b"A": "account", b"N": "server", b"C": "cluster"}


def _nkeys() -> Any:
    try:
        import nkeys
    except ImportError:
        raise NatsCredentialsError("nkey and creds authentication need the nkeys package: pip install nkeys") from None
    return nkeys


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise NatsCredentialsError(f"{what} {path}: cannot read it ({e.strerror or type(e).__name__})") from None


def _user_public_key(seed: bytes, where: str) -> bytes:
    """The public key of a user nkey seed; NatsCredentialsError naming `where` (never the seed) when it is not one."""
    nkeys = _nkeys()
    try:
        raw = base64.b32decode(seed + b"=" * (-len(seed) % 8))
        if nkeys.crc16_checksum(raw[:-2]) != raw[-2:]:  # nkeys.from_seed skips the checksum, so a typo would pass
            raise ValueError("checksum")
        pair = nkeys.from_seed(bytearray(seed))
    except Exception:  # nkeys raises its own errors, binascii.Error or TypeError depending on the damage
        raise NatsCredentialsError(f"{where}: not a valid nkey seed") from None
    try:
        public = bytes(pair.public_key)
    finally:
        pair.wipe()
    if not public.startswith(b"U"):
        role = KEY_ROLES.get(public[:1], "non-user")
        raise NatsCredentialsError(f"{where}: the seed is for a key of kind {role}, not a user key (SU...)")
    return public


def _b64url_json(part: bytes) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)))


def _jwt_subject(jwt: bytes, where: str) -> bytes:
    """The `sub` of a user JWT whose header, claims and signature decode; NatsCredentialsError otherwise."""
    parts = jwt.split(b".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        header, claims = _b64url_json(parts[0]), _b64url_json(parts[1])
        signature = base64.urlsafe_b64decode(parts[2] + b"=" * (-len(parts[2]) % 4))
        subject = str(claims["sub"]).encode()
        ok = header.get("alg") == "ed25519-nkey" and len(signature) == 64 and subject.startswith(b"U")
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        raise NatsCredentialsError(f"{where}: not a NATS user JWT (header.claims.signature, ed25519-nkey, sub U...)")
    return subject


def _value_after(lines: list[bytes], marker: bytes, path: str) -> tuple[int, bytes]:
    """(1-based line number, value) of the line after the first line holding `marker`, as nats-py reads it."""
    for i, line in enumerate(lines[:-1]):
        if marker in line:
            value, where = lines[i + 1], f"creds file {path} line {i + 2}"
            if value.endswith(b"\r\n"):
                raise NatsCredentialsError(f"{where}: Windows line ends (CRLF), which nats-py cannot read")
            if not value.endswith(b"\n"):
                raise NatsCredentialsError(f"{where}: the line must end with a newline")
            return i + 2, value[:-1]  # nats-py drops the newline the same way
    raise NatsCredentialsError(f"creds file {path}: no '-----{marker.decode()}-----' line followed by its value")


def check_creds_file(path: str) -> None:
    """Raise NatsCredentialsError (file and line, never content) unless `path` is a usable NATS user creds file.

    nats-py loops forever on a creds file without a user JWT, so this runs before every connect.
    """
    lines = _read(path, "creds file").splitlines(keepends=True)
    jwt_line, jwt = _value_after(lines, JWT_MARKER, path)
    subject = _jwt_subject(jwt, f"creds file {path} line {jwt_line}")
    seed_line, seed = _value_after(lines, SEED_MARKER, path)
    if _user_public_key(seed, f"creds file {path} line {seed_line}") != subject:
        raise NatsCredentialsError(
            f"creds file {path}: the seed on line {seed_line} does not belong to the user JWT on line {jwt_line}"
        )


def check_nkey_seed_file(path: str) -> None:
    """Raise NatsCredentialsError (file, never content) unless `path` holds one user nkey seed."""
    _user_public_key(_read(path, "nkey seed file").strip(), f"nkey seed file {path}")


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


# NatsOptions field → environment variable, shared by `karez deploy` and the Prefect tasks that connect to NATS.
ENVIRONMENT_VARIABLES = {
    "user": "KAREZ_NATS_USER",
    "password": "KAREZ_NATS_PASSWORD",
    "token": "KAREZ_NATS_TOKEN",
    "creds_file": "KAREZ_NATS_CREDS",
    "nkey_seed_file": "KAREZ_NATS_NKEY_SEED",
    "tls_ca": "KAREZ_NATS_TLS_CA",
    "tls_cert": "KAREZ_NATS_TLS_CERT",
    "tls_key": "KAREZ_NATS_TLS_KEY",
}


def servers_in_order(environ: Mapping[str, str] | None = None) -> bool:
    """`KAREZ_NATS_NO_RANDOMIZE` is set (1/true/yes): try the servers in the order listed instead of shuffled."""
    env = os.environ if environ is None else environ
    return env.get("KAREZ_NATS_NO_RANDOMIZE", "").strip().lower() in ("1", "true", "yes")


@dataclass
class NatsOptions:
    """Connection settings shared by every role of a deploy process."""

    servers: list[str] = field(default_factory=lambda: [DEFAULT_NATS_ADDR])
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: str | None = None
    nkey_seed_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    reconnect_wait: float = 1.0
    # nats-py shuffles the server list to spread clients over a cluster; a host that lists its own node first
    # (less traffic between hosts) sets KAREZ_NATS_NO_RANDOMIZE=1 to try the list in order
    no_randomize: bool = False

    @classmethod
    def from_address(cls, address: str | None, **kwargs: Any) -> NatsOptions:
        """Options for an address string (possibly a comma-separated list)."""
        return cls(servers=split_servers(address or DEFAULT_NATS_ADDR), **kwargs)

    @classmethod
    def from_environment(cls, address: str | None, environ: Mapping[str, str] | None = None) -> NatsOptions:
        """Options for an address plus the `KAREZ_NATS_*` credentials and TLS files that `karez deploy` reads."""
        env = os.environ if environ is None else environ
        found = {field_name: env.get(var) for field_name, var in ENVIRONMENT_VARIABLES.items()}
        return cls.from_address(address, no_randomize=servers_in_order(env), **{k: v for k, v in found.items() if v})

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

    def check_credential_files(self) -> None:
        """NatsCredentialsError unless the configured creds or nkey seed file can be used (run before connecting)."""
        if self.creds_file is not None and self.nkey_seed_file is not None:
            raise NatsCredentialsError("give either a creds file or an nkey seed file, not both")
        if self.creds_file is not None:
            check_creds_file(self.creds_file)
        if self.nkey_seed_file is not None:
            check_nkey_seed_file(self.nkey_seed_file)

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `nats.connect`, reconnecting forever; the credential files are checked first."""
        self.check_credential_files()
        kwargs: dict[str, Any] = {
            "servers": self.servers,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": self.reconnect_wait,
            "allow_reconnect": True,
            "connect_timeout": 2,
            "dont_randomize": self.no_randomize,
        }
        if self.user is not None:
            kwargs["user"] = self.user
            kwargs["password"] = self.password
        if self.token is not None:
            kwargs["token"] = self.token
        if self.creds_file is not None:
            kwargs["user_credentials"] = self.creds_file
        if self.nkey_seed_file is not None:
            kwargs["nkeys_seed"] = self.nkey_seed_file  # nats-py re-reads it to sign each server nonce
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
    from nats.aio.client import Client

    options.check_credential_files()
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

    nc = Client()
    extra: dict[str, Any] = dict(callbacks)  # nats-py's connect types each callback keyword differently
    attempt = asyncio.ensure_future(nc.connect(name=name, **options.connect_kwargs(), error_cb=error_cb, **extra))
    waiting: set[asyncio.Future[Any]] = {attempt, refused}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # a stop or a start-up timeout: the retrying attempt must not outlive us
        attempt.cancel()
        await asyncio.gather(attempt, return_exceptions=True)
        await nc.close()
        raise
    if attempt.done():
        refused.cancel()
        attempt.result()
        connected = True
        return nc
    attempt.cancel()
    await asyncio.gather(attempt, return_exceptions=True)
    await nc.close()
    raise NatsAuthError(f"NATS server {options.display()} refused the credentials ({refused.result()})")


def server_address(nc: Any) -> str | None:
    """`host:port` of the server a client is connected to (never the URL's netloc, which would show credentials)."""
    url = getattr(nc, "connected_url", None)
    return f"{url.hostname}:{url.port}" if url is not None and hasattr(url, "hostname") else url

"""Connection settings of the InfluxDB backend: URL, org, bucket and token from options or environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

DEFAULT_ORG = "tiro"
DEFAULT_BUCKET = "tiro"
DEFAULT_MEASUREMENT = "tiro_telemetry"
TOKEN_ENV = ("TIRO_INFLUX_TOKEN", "INFLUX_TOKEN")
ORG_ENV = ("TIRO_INFLUX_ORG",)
BUCKET_ENV = ("TIRO_INFLUX_BUCKET",)

_SCHEMES = {
    "influx": "http",
    "influxdb": "http",
    "influx+http": "http",
    "influx+https": "https",
    "influxdb+https": "https",
}
_OPTION_TYPES: dict[str, type] = {
    "org": str,
    "bucket": str,
    "measurement": str,
    "retention": float,
    "batch_size": int,
    "max_retries": int,
    "timeout": float,
}


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def redact_url(url: str) -> str:
    """The URL without user, password and query string (which may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _duration_seconds(value: Any) -> float:
    """Seconds from a number or a duration text such as `30d`, `12h`, `90m`, `0` (infinite)."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


@dataclass(frozen=True)
class InfluxSettings:
    """Where and how to write: server URL, org, bucket, token (never shown), measurement and write limits."""

    url: str
    org: str = DEFAULT_ORG
    bucket: str = DEFAULT_BUCKET
    token: str | None = field(default=None, repr=False)
    measurement: str = DEFAULT_MEASUREMENT
    retention: float = 0.0  # seconds; 0 keeps data forever (InfluxDB's "infinite")
    batch_size: int = 5000  # lines per write request, which bounds the memory one request needs
    max_retries: int = 5  # attempts after the first on 429/5xx and connection errors
    timeout: float = 30.0  # seconds per request

    @property
    def public_url(self) -> str:
        """The server URL with nothing secret in it."""
        return redact_url(self.url)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> InfluxSettings:
        """Settings from `influx://host:8086?org=..&bucket=..` or `http(s)://...`, options, then the environment."""
        parts = urlsplit(url)
        scheme = _SCHEMES.get(parts.scheme, parts.scheme)
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"InfluxDB URL {redact_url(url)!r}: expected influx://host:port or http(s)://host:port")
        query = dict(parse_qsl(parts.query))
        token = options.pop("token", None) or query.pop("token", None) or parts.password or _first_env(TOKEN_ENV)
        values: dict[str, Any] = {}
        for key, kind in _OPTION_TYPES.items():
            raw = options.pop(key, None)
            if raw is None:
                raw = query.pop(key, None)
            if raw is None:
                continue
            try:
                values[key] = _duration_seconds(raw) if key in ("retention", "timeout") else kind(raw)
            except (TypeError, ValueError):
                raise ValueError(f"InfluxDB option {key}={raw!r} is not a valid {kind.__name__}") from None
        unknown = sorted(set(options) | set(query))
        if unknown:
            raise ValueError(f"unknown InfluxDB option(s) {', '.join(unknown)} for {redact_url(url)}")
        values.setdefault("org", _first_env(ORG_ENV) or DEFAULT_ORG)
        values.setdefault("bucket", _first_env(BUCKET_ENV) or DEFAULT_BUCKET)
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in (parts.hostname or "") and parts.port is None:
            host = f"[{parts.hostname}]"
        server = urlunsplit((scheme, host, parts.path.rstrip("/"), "", ""))
        settings = cls(url=server, token=token, **values)
        if settings.batch_size < 1:
            raise ValueError(f"InfluxDB option batch_size must be at least 1, not {settings.batch_size}")
        return settings

    def scrub(self, text: str) -> str:
        """`text` with the token replaced, for error messages built from server or library texts."""
        if self.token:
            text = text.replace(self.token, "***")
        return text

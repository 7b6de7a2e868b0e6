"""Tiro's settings from the environment, decided here for the CLI, the flows and the shipped service config.

Stores: `TIRO_TELEMETRY_URL` and `TIRO_GRAPH_URL` name each store; `TIRO_STORE` names one URL for both (a sqlite file
holds both); without any, `sqlite:///tiro.db`. A relative sqlite path is relative to the directory the command runs in
(for deployments: `TIRO_PROJECT_DIR`, where the pull step changes to). `none` turns a store off where that is allowed.
Mock server: `TIRO_MOCK_URL` (default `http://localhost:8000`) is where the mock-server service listens and where the
service's Karez roles collect from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

TELEMETRY_ENV = "TIRO_TELEMETRY_URL"
GRAPH_ENV = "TIRO_GRAPH_URL"
STORE_ENV = "TIRO_STORE"
MOCK_ENV = "TIRO_MOCK_URL"
DEFAULT_STORE_URL = "sqlite:///tiro.db"
DEFAULT_MOCK_URL = "http://localhost:8000"
OFF = "none"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class StoreURLs:
    """The telemetry and graph store URLs in use (None: that store is off)."""

    telemetry: str | None
    graph: str | None


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def absolute_sqlite(url: str, base: Path | None = None) -> str:
    """The URL with a relative sqlite path made absolute against `base` (default: the current directory)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return f"sqlite:///{(base or Path.cwd()) / url.removeprefix('sqlite:///')}"
    return url


def _pick(given: str | None, own_env: str, env: Mapping[str, str]) -> str | None:
    url = (given or env.get(own_env) or env.get(STORE_ENV) or DEFAULT_STORE_URL).strip()
    return None if url.lower() == OFF else absolute_sqlite(url)


def telemetry_store_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment names a telemetry store ($TIRO_TELEMETRY_URL or $TIRO_STORE), not just the default."""
    env = _environ(environ)
    return bool(env.get(TELEMETRY_ENV) or env.get(STORE_ENV))


def store_urls(
    telemetry: str | None = None, graph: str | None = None, environ: Mapping[str, str] | None = None
) -> StoreURLs:
    """The store URLs: the given ones, else $TIRO_TELEMETRY_URL / $TIRO_GRAPH_URL, else $TIRO_STORE, else sqlite."""
    env = _environ(environ)
    return StoreURLs(_pick(telemetry, TELEMETRY_ENV, env), _pick(graph, GRAPH_ENV, env))


def mock_url(environ: Mapping[str, str] | None = None) -> str:
    """Where the mock server listens and is collected from: $TIRO_MOCK_URL, else http://localhost:8000."""
    url = (_environ(environ).get(MOCK_ENV) or DEFAULT_MOCK_URL).strip().rstrip("/")
    try:
        port = urlsplit(url).port
    except ValueError:
        port = None
    if not url.startswith(("http://", "https://")) or port is None:
        raise SettingsError(f"{MOCK_ENV}={url!r}: use http://host:port (e.g. {DEFAULT_MOCK_URL})")
    return url


def mock_port(environ: Mapping[str, str] | None = None) -> int:
    """The port of the mock server's URL."""
    port = urlsplit(mock_url(environ)).port
    assert port is not None  # mock_url checked it
    return port


def service_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a Karez config reads Tiro's settings from, resolved (sqlite paths absolute; stores that are on)."""
    urls = store_urls(environ=environ)
    resolved = {TELEMETRY_ENV: urls.telemetry, GRAPH_ENV: urls.graph, MOCK_ENV: mock_url(environ)}
    return {name: value for name, value in resolved.items() if value is not None}

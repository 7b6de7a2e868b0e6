"""Opening a store from its URL: `sqlite:///path.db` / `sqlite://` (memory) embedded, or a server backend over HTTP.

Server backends are imported lazily by module path, so their client libraries load only when used:
`influx+http(s)://…` (or `kind="influx"`) → `tiro.stores.influx:InfluxTelemetryStore`, and `arango+http(s)://…`
(or `kind="arango"`) → `tiro.stores.arango:ArangoGraphStore`. They are called as `cls(url, **options)` with the
hint removed from the URL. A plain `http(s)://` URL means the only server backend of that store kind.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tiro.stores.base import GraphStore, TelemetryStore
from tiro.stores.sqlite.graph import SqliteGraphStore
from tiro.stores.sqlite.telemetry import SqliteTelemetryStore

__all__ = [
    "BACKENDS",
    "StoreURL",
    "StoreURLError",
    "open_graph_store",
    "open_telemetry_store",
    "parse_store_url",
    "redact_url",
]

# kind -> (telemetry backend, graph backend) as "module:Class"; None when the kind does not offer that store
BACKENDS: dict[str, tuple[str | None, str | None]] = {
    "sqlite": ("tiro.stores.sqlite.telemetry:SqliteTelemetryStore", "tiro.stores.sqlite.graph:SqliteGraphStore"),
    "influx": ("tiro.stores.influx:InfluxTelemetryStore", None),
    "arango": (None, "tiro.stores.arango:ArangoGraphStore"),
}
_DEFAULT_SERVER = {"telemetry": "influx", "graph": "arango"}
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


class StoreURLError(ValueError):
    """A store URL that cannot be understood, or a backend that does not offer the requested store."""


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL: backend kind and where it is (a file path, None for memory, or the server URL)."""

    kind: str
    location: str | None


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***` (safe to log and to put in reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))


def parse_store_url(url: str, *, store: str = "telemetry", kind: str | None = None) -> StoreURL:
    """Parse a store URL for a `store` ("telemetry" or "graph"); `kind` overrides the backend a URL implies."""
    if not isinstance(url, str) or not url.strip():
        raise StoreURLError(f"empty store URL: use sqlite:///path.db, sqlite:// or an http(s):// server ({store})")
    url = url.strip()
    if kind is not None and kind not in BACKENDS:
        raise StoreURLError(f"unknown store kind {kind!r}: use one of {', '.join(BACKENDS)}")
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.endswith(_SQLITE_SUFFIXES):
            return StoreURL("sqlite", url)
        raise StoreURLError(f"store URL {redact_url(url)!r} has no scheme: use sqlite:///{url} or http(s)://host:port")
    scheme = scheme.lower()
    if scheme == "sqlite":
        if kind not in (None, "sqlite"):
            raise StoreURLError(f"store URL {url!r} is sqlite, not {kind}")
        if rest in ("", "/", "/:memory:"):
            return StoreURL("sqlite", None)
        if not rest.startswith("/"):
            raise StoreURLError(f"store URL {url!r}: write sqlite:///relative.db or sqlite:////absolute/path.db")
        return StoreURL("sqlite", rest[1:])
    hint, plus, transport = scheme.partition("+")
    if plus:
        if hint not in BACKENDS or hint == "sqlite":
            raise StoreURLError(f"store URL {redact_url(url)!r}: unknown backend {hint!r} (influx or arango)")
        if kind is not None and kind != hint:
            raise StoreURLError(f"store URL {redact_url(url)!r} names {hint}, but kind={kind!r} was given")
        kind, scheme = hint, transport
    if scheme not in ("http", "https"):
        raise StoreURLError(f"store URL {redact_url(url)!r}: unsupported scheme {scheme!r}")
    return StoreURL(kind or _DEFAULT_SERVER[store], f"{scheme}://{rest}")


def _backend(kind: str, store: str) -> type:
    telemetry, graph = BACKENDS[kind]
    target = telemetry if store == "telemetry" else graph
    if target is None:
        raise StoreURLError(f"the {kind} backend has no {store} store")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise StoreURLError(f"the {kind} {store} backend is not available ({exc})") from None
    backend: type = getattr(module, class_name)
    return backend


def open_telemetry_store(url: str, *, kind: str | None = None, **options: Any) -> TelemetryStore:
    """The telemetry store of a URL (not bootstrapped; call `bootstrap()`); options go to the backend."""
    parsed = parse_store_url(url, store="telemetry", kind=kind)
    if parsed.kind == "sqlite":
        return SqliteTelemetryStore(parsed.location, **options)
    store: TelemetryStore = _backend(parsed.kind, "telemetry")(parsed.location, **options)
    return store


def open_graph_store(url: str, *, kind: str | None = None, **options: Any) -> GraphStore:
    """The graph store of a URL (not bootstrapped; call `bootstrap(model)`); options go to the backend."""
    parsed = parse_store_url(url, store="graph", kind=kind)
    if parsed.kind == "sqlite":
        return SqliteGraphStore(parsed.location, **options)
    graph: GraphStore = _backend(parsed.kind, "graph")(parsed.location, **options)
    return graph

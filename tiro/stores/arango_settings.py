"""Connection settings of the ArangoDB backend: hosts, database, graph and credentials (password never shown)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

DEFAULT_DB = "tiro"
DEFAULT_GRAPH = "scenario"
DEFAULT_USERNAME = "root"
_SCHEMES = {"arango": "http", "arangodb": "http", "arango+http": "http", "arango+https": "https"}


def _host_url(url: str) -> tuple[str, dict[str, str], str | None, str | None]:
    """(server URL without credentials or query, query options, username, password) of one host URL."""
    parts = urlsplit(url.strip())
    scheme = _SCHEMES.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.hostname:
        shown = urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))
        raise ValueError(f"ArangoDB URL {shown!r}: expected http(s)://host:port or arango://host:port")
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    server = urlunsplit((scheme, host, parts.path.rstrip("/"), "", ""))
    return server, dict(parse_qsl(parts.query)), parts.username, parts.password


@dataclass(frozen=True)
class ArangoSettings:
    """Hosts (one or more coordinators), database and graph names, and credentials."""

    hosts: tuple[str, ...]
    db_name: str = DEFAULT_DB
    graph_name: str = DEFAULT_GRAPH
    username: str = DEFAULT_USERNAME
    password: str = field(default="", repr=False)
    timeout: float = 60.0

    @property
    def public_url(self) -> str:
        """The hosts, comma-separated, with nothing secret in them."""
        return ",".join(self.hosts)

    @classmethod
    def from_url(cls, url: str | list[str] | tuple[str, ...], **options: Any) -> ArangoSettings:
        """Settings from `http://host:8529[,http://other:8529]?db_name=..&graph_name=..`, options and environment.

        Credentials come from options `username`/`password` (or an `auth` dict), the URL's user info, then
        `TIRO_ARANGO_USERNAME` / `TIRO_ARANGO_PASSWORD`; the username defaults to root.
        """
        urls = [u for u in (url.split(",") if isinstance(url, str) else url) if str(u).strip()]
        if not urls:
            raise ValueError("no ArangoDB host given")
        hosts, query, user, password = [], {}, None, None
        for one in urls:
            server, q, u, p = _host_url(str(one))
            hosts.append(server)
            query.update(q)
            user, password = user or u, password or p
        auth = dict(options.pop("auth", None) or {})
        username = options.pop("username", None) or auth.pop("username", None) or user
        password = options.pop("password", None) or auth.pop("password", None) or password
        values: dict[str, Any] = {
            "db_name": options.pop("db_name", None) or query.pop("db_name", None) or DEFAULT_DB,
            "graph_name": options.pop("graph_name", None) or query.pop("graph_name", None) or DEFAULT_GRAPH,
            "username": username or os.environ.get("TIRO_ARANGO_USERNAME") or DEFAULT_USERNAME,
            "password": password or os.environ.get("TIRO_ARANGO_PASSWORD") or "",
        }
        timeout = options.pop("timeout", None) or query.pop("timeout", None)
        if timeout is not None:
            try:
                values["timeout"] = float(timeout)
            except (TypeError, ValueError):
                raise ValueError(f"ArangoDB option timeout={timeout!r} is not a number") from None
        unknown = sorted(set(options) | set(query) | set(auth))
        if unknown:
            raise ValueError(f"unknown ArangoDB option(s) {', '.join(unknown)} for {','.join(hosts)}")
        return cls(hosts=tuple(hosts), **values)

    def scrub(self, text: str) -> str:
        """`text` with the password replaced, for messages built from server or library texts."""
        if self.password:
            text = text.replace(self.password, "***")
        return text

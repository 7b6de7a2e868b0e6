"""A tiny HTTP server with scripted JSON answers, standing in for servers that cannot run here (InfluxDB 2, ArangoDB).

The real client libraries (influxdb-client, python-arango) talk HTTP to it; it records every request so tests can
check what was sent, answers from per-route scripts, and can stall chosen routes (a `gate`) to show back-pressure
and that blocking calls run off the event loop. It knows nothing of our code.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, Any] | tuple[int, Any, dict[str, str]]


class HttpDouble:
    """Scripted responses per (method, path); `defaults` answer unscripted routes, anything else gets 404."""

    def __init__(self, defaults: dict[tuple[str, str], Response] | None = None, gated: str | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.scripts: dict[tuple[str, str], deque[tuple[int, Any, dict[str, str]]]] = {}
        self.defaults = dict(defaults or {})
        self.gated = gated  # requests to this path wait for `gate` when it is set to an Event
        self.gate: threading.Event | None = None
        self.arrived = threading.Event()  # set when a request to the gated path has arrived
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                double.requests.append(
                    {
                        "method": method,
                        "path": parts.path,
                        "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                        "headers": dict(self.headers),
                        "body": body,
                        "thread": threading.get_ident(),
                    }
                )
                if parts.path == double.gated:
                    double.arrived.set()
                    if double.gate is not None:
                        double.gate.wait(30)
                status, payload, headers = double.next_response(method, parts.path)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_PUT(self) -> None:
                self._answer("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next_response(self, method: str, path: str) -> tuple[int, Any, dict[str, str]]:
        """The scripted answer (the last one of a script repeats), the route's default, or 404."""
        script = self.scripts.get((method, path))
        if script:
            return script[0] if len(script) == 1 else script.popleft()
        default = self.defaults.get((method, path))
        if default is not None:
            return default[0], default[1], default[2] if len(default) > 2 else {}
        return 404, {"code": 404, "error": True, "message": "not scripted"}, {}

    def script(self, method: str, path: str, *responses: Response) -> None:
        """Answer the next calls with these (status, JSON body[, headers]); the last one repeats."""
        self.scripts[(method, path)] = deque((r[0], r[1], r[2] if len(r) > 2 else {}) for r in responses)

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        """Recorded requests to one route."""
        return [r for r in self.requests if r["method"] == method and r["path"] == path]

    def __enter__(self) -> HttpDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def influx_double() -> HttpDouble:
    """A double of InfluxDB 2 where writes succeed (204) unless scripted otherwise."""
    return HttpDouble({("POST", "/api/v2/write"): (204, None)}, gated="/api/v2/write")


def cursor_result(result: list[Any]) -> dict[str, Any]:
    """ArangoDB's answer to POST /_api/cursor holding `result` in one batch."""
    return {"result": result, "hasMore": False, "cached": False, "error": False, "code": 201}


def arango_double(db_name: str = "tiro") -> HttpDouble:
    """A double of ArangoDB whose AQL cursor endpoint of `db_name` answers `[n]` unless scripted otherwise."""
    path = f"/_db/{db_name}/_api/cursor"
    return HttpDouble({("POST", path): (201, cursor_result([1]))}, gated=path)

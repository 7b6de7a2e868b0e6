"""A tiny HTTP server answering the few InfluxDB 2 API calls the store makes, with scripted statuses.

Only for what no real server here can do (VictoriaMetrics has no org/bucket API and never answers 401/429):
the real influxdb-client talks HTTP to it, and it records every request so tests can check what was sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class InfluxDouble:
    """Scripted responses per (method, path); unscripted writes get 204, other calls 404."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.scripts: dict[tuple[str, str], deque[tuple[int, Any, dict[str, str]]]] = {}
        self.gate: threading.Event | None = None  # when set to an Event, writes wait for it (a stalled server)
        self.arrived = threading.Event()  # set when a write request has arrived
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
                    }
                )
                if parts.path == "/api/v2/write":
                    double.arrived.set()
                    if double.gate is not None:
                        double.gate.wait(30)
                script = double.scripts.get((method, parts.path))
                if script:
                    status, payload, headers = script[0] if len(script) == 1 else script.popleft()
                elif (method, parts.path) == ("POST", "/api/v2/write"):
                    status, payload, headers = 204, None, {}
                else:
                    status, payload, headers = 404, {"code": "not found", "message": "not scripted"}, {}
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def script(self, method: str, path: str, *responses: tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> None:
        """Answer the next calls with these (status, JSON body[, headers]); the last one repeats."""
        self.scripts[(method, path)] = deque((r[0], r[1], r[2] if len(r) > 2 else {}) for r in responses)

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        """Recorded requests to one route."""
        return [r for r in self.requests if r["method"] == method and r["path"] == path]

    def __enter__(self) -> InfluxDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

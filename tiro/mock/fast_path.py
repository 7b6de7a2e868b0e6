"""A thin ASGI layer that answers the hot per-point routes directly, bypassing FastAPI's routing and validation.

`GET /points/{path}` and `GET /values/{uuid}` are what Karez connectors call once per data point; FastAPI's
per-request machinery costs more than generating the value, so these two are served here with the same bodies and
status codes, and every other request (including /docs and the batch routes) goes to the FastAPI app.
"""

from __future__ import annotations

from typing import Any

import orjson

from tiro.mock.faults import WITHHELD
from tiro.mock.service import MockService

_JSON_HEADERS = [(b"content-type", b"application/json")]
_POINTS = "/points/"
_VALUES = "/values/"


class FastPointRoutes:
    """ASGI app: serves single points and uuid values itself, delegates everything else to `app`."""

    def __init__(self, app: Any, service: MockService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(_POINTS) and len(path) > len(_POINTS) and not scope.get("query_string"):
                await self._point(path[len(_POINTS) :], send)
                return
            if path.startswith(_VALUES) and len(path) > len(_VALUES) and not scope.get("query_string"):
                await self._value(path[len(_VALUES) :], send)
                return
        await self.app(scope, receive, send)

    async def _point(self, dp_path: str, send: Any) -> None:
        await _respond(send, *point_answer(self.service, dp_path))

    async def _value(self, uuid: str, send: Any) -> None:
        await _respond(send, *value_answer(self.service, uuid))


def point_answer(service: MockService, dp_path: str) -> tuple[int, Any]:
    """Status and JSON body of `GET /points/{dp_path}` (404 bodies as Tiro 0.13)."""
    dp = service.point(dp_path)
    if dp is None:
        return 404, {"detail": f"Cannot find path {dp_path}"}
    if dp == WITHHELD:
        return 404, {"detail": f"Cannot find path {dp_path} (withheld by --faulty)"}
    return 200, dp


def value_answer(service: MockService, uuid: str) -> tuple[int, Any]:
    """Status and JSON body of `GET /values/{uuid}`: the bare value."""
    path = service.uuids.get(uuid)
    dp = service.point(path) if path else None
    if not isinstance(dp, dict):
        return 404, {"detail": f"Cannot find uuid {uuid}"}
    return 200, dp.get("value")


async def _respond(send: Any, status: int, obj: Any) -> None:
    body = orjson.dumps(obj)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

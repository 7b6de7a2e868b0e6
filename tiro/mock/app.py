"""The mock server's FastAPI app: Tiro 0.13's routes (same paths, shapes and 404 bodies) plus batch routes."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from tiro.mock.fast_path import FastPointRoutes, point_answer, value_answer
from tiro.mock.service import MockService

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_BATCH_PATHS = 200_000


def _json(obj: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status_code, media_type="application/json")


def create_app(service: MockService) -> FastAPI:
    """Build the FastAPI app serving `service` (OpenAPI docs at /docs)."""
    app = FastAPI(title="Tiro mock server", description="Mock data generated from the Tiro data model.")

    @app.get("/hierarchy")
    async def hierarchy() -> Response:
        """The asset tree with the names of its data points per category."""
        return _json(service.mocker.hierarchy())

    @app.get("/sample")
    async def sample(change_attrs: bool = False) -> Response:
        """A full snapshot; honours the server's --skip-defaults and --use-defaults flags."""
        snapshot = service.mocker.snapshot(
            skip_defaults=service.skip_defaults, use_defaults=service.use_defaults, change_attrs=change_attrs
        )
        return _json(snapshot)

    @app.get("/points/")
    async def list_points(request: Request, values: bool = False) -> Response:
        """Every data-point path (with an ETag: 304 to a request that has it); with ?values=true a {path: {value,
        timestamp}} map of all of them."""
        if not values:
            listing = service.listing
            tagged = {"ETag": listing.etag}
            if listing.matches(request.headers.get("if-none-match")):
                return Response(status_code=304, headers=tagged)
            return Response(listing.body(), media_type="application/json", headers=tagged)
        return _json(service.batch(service.listed)[0])

    @app.post("/points/batch")
    async def batch(request: Request, form: Literal["points", "columns"] = "points") -> Response:
        """Values for a JSON list of data-point paths: {"points": {path: DP}, "unknown": [paths]}; with
        ?form=columns {"columns": {path, value, timestamp, unit, series: [...]}, "model": fingerprint,
        "other": {path: DP}, "unknown": [paths]}."""
        paths = await _read_path_list(request)
        if form == "columns":
            return _json(service.batch_columns(paths))
        points, unknown = service.batch(paths)
        return _json({"points": points, "unknown": unknown})

    @app.get("/points/{path:path}")
    async def get_point(path: str) -> Response:
        """One data point: {value, timestamp[, unit]}; 404 for an unknown path or category."""
        return _json(*reversed(point_answer(service, path)))

    @app.get("/values/")
    async def list_values() -> Response:
        """Every uuid of the reference's uuid_map ([] without a reference)."""
        return _json(list(service.uuids))

    @app.get("/values/{uuid}")
    async def get_value(uuid: str) -> Response:
        """The bare value of the data point a uuid stands for."""
        return _json(*reversed(value_answer(service, uuid)))

    return app


async def _read_path_list(request: Request) -> list[str]:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise HTTPException(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        paths = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not JSON: {exc}") from None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise HTTPException(422, "body must be a JSON list of data-point path strings")
    if len(paths) > MAX_BATCH_PATHS:
        raise HTTPException(413, f"at most {MAX_BATCH_PATHS} paths per request")
    return paths


def create_asgi(service: MockService) -> FastPointRoutes:
    """The app to serve: FastAPI for every route, with the per-point routes answered on a fast path."""
    return FastPointRoutes(create_app(service), service)

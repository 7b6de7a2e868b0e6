"""`tiro mock push`: every point of the data server reaches the receiver; failures are retried, then counted."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tiro.mock.push import push_rounds
from tiro.mock.server import BackgroundServer


def _receiver(fail_first: int = 0) -> tuple[FastAPI, dict]:
    app = FastAPI()
    state: dict = {"points": {}, "calls": 0}

    @app.post("/points/{path:path}")
    async def receive(path: str, request: Request):
        state["calls"] += 1
        if state["calls"] <= fail_first:
            return JSONResponse({"detail": "busy"}, status_code=503)
        state["points"][path] = await request.json()
        return None

    return app, state


def test_push_forwards_every_point(mock_server):
    app, state = _receiver()
    with BackgroundServer(app) as receiver:
        stats = asyncio.run(push_rounds(mock_server.url, receiver.url, interval=0, rounds=2, retries=2))
    paths = httpx.get(f"{mock_server.url}/points/").json()
    assert stats.rounds == 2 and stats.failed == 0
    assert stats.forwarded == 2 * len(paths)
    assert sorted(state["points"]) == sorted(paths)
    assert all(set(dp) >= {"value", "timestamp"} for dp in state["points"].values())


def test_push_retries_a_busy_receiver(mock_server):
    app, state = _receiver(fail_first=2)
    with BackgroundServer(app) as receiver:
        stats = asyncio.run(push_rounds(mock_server.url, receiver.url, interval=0, rounds=1, retries=3, concurrency=1))
    assert stats.failed == 0
    assert len(state["points"]) == stats.forwarded > 0


def test_push_counts_points_it_could_not_deliver(mock_server):
    with BackgroundServer(FastAPI()) as receiver:  # no route: every POST is a 404
        stats = asyncio.run(push_rounds(mock_server.url, receiver.url, interval=0, rounds=1, retries=1))
    assert stats.forwarded == 0 and stats.failed > 0

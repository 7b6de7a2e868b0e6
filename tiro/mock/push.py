"""`tiro mock push`: forward every data point of a data server to a receiver, round after round, with retries."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx

log = logging.getLogger("tiro.mock.push")


@dataclass
class PushStats:
    """What one or more push rounds did."""

    rounds: int = 0
    forwarded: int = 0
    failed: int = 0
    unlisted: int = 0  # rounds in which the data server's point list could not be read


async def _request(client: httpx.AsyncClient, method: str, url: str, retries: int, **kwargs) -> httpx.Response | None:
    delay = 0.5
    for attempt in range(1, retries + 1):
        try:
            response = await client.request(method, url, **kwargs)
            if response.status_code < 500:
                return response
            reason = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}"
        log.warning("%s %s failed (attempt %d/%d): %s", method, url, attempt, retries, reason)
        if attempt < retries:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    return None


async def push_rounds(
    data_url: str,
    recv_url: str,
    *,
    interval: float = 60.0,
    rounds: int | None = None,
    retries: int = 3,
    concurrency: int = 32,
) -> PushStats:
    """Run push rounds (forever when `rounds` is None); a failing point is logged and the round goes on."""
    stats = PushStats()
    limit = asyncio.Semaphore(concurrency)
    async with (
        httpx.AsyncClient(base_url=data_url, timeout=10) as data,
        httpx.AsyncClient(base_url=recv_url, timeout=10) as recv,
    ):

        async def forward(path: str) -> None:
            async with limit:
                got = await _request(data, "GET", f"/points/{path}", retries)
                if got is None or got.status_code != 200:
                    stats.failed += 1
                    return
                sent = await _request(
                    recv,
                    "POST",
                    f"/points/{path}",
                    retries,
                    content=got.content,
                    headers={"content-type": "application/json"},
                )
                if sent is None or sent.status_code >= 300:
                    stats.failed += 1
                    return
                stats.forwarded += 1

        loop = asyncio.get_running_loop()
        while rounds is None or stats.rounds < rounds:
            started = loop.time()
            listing = await _request(data, "GET", "/points/", retries)
            if listing is not None and listing.status_code == 200:
                await asyncio.gather(*(forward(p) for p in listing.json()))
            else:
                stats.unlisted += 1
                log.error("could not list points from %s", data_url)
            stats.rounds += 1
            if rounds is not None and stats.rounds >= rounds:
                break
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))
    return stats

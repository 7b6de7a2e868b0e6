"""Load generators for the mock server: wrk when installed, else a raw asyncio keep-alive HTTP/1.1 client."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time


def wrk_requests_per_s(url: str, connections: int = 50, seconds: int = 10) -> float | None:
    """Requests/s that wrk measures against `url` (one wrk thread), or None when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


async def _client(host: str, port: int, request: bytes, stop_at: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    try:
        while time.perf_counter() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))
            await reader.readexactly(length)
            done += 1
    finally:
        counts.append(done)
        writer.close()


def python_requests_per_s(host: str, port: int, path: str, connections: int = 50, seconds: float = 10) -> float:
    """Requests/s of `connections` keep-alive clients sending GET `path` for `seconds`."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    async def main() -> float:
        counts: list[int] = []
        start = time.perf_counter()
        stop_at = start + seconds
        await asyncio.gather(*(_client(host, port, request, stop_at, counts) for _ in range(connections)))
        return sum(counts) / (time.perf_counter() - start)

    return asyncio.run(main())

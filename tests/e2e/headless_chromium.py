"""Debian's `chromium` in headless mode, driven over the DevTools protocol: load a page, wait for text, screenshot.

`HeadlessChromium()` starts chromium on a free loopback debugging port with a new profile directory and stops it (by
PID) on exit. `page.load(url, expect=[...])` waits until the rendered DOM contains every expected text (the Prefect UI
is a single-page app: its content arrives after the load event), then `page.dom()` returns the rendered HTML and
`page.screenshot(path)` writes a PNG. Tests call `skip_without_chromium()` first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import websockets
from process_groups import stop_group

from karez.embedded_nats import free_port

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_binary() -> str | None:
    """Path of the chromium binary, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def skip_without_chromium() -> None:
    """Skip the calling test when chromium is not installed."""
    import pytest

    if chromium_binary() is None:
        pytest.skip("chromium not on PATH (apt-get install -y chromium)")


class HeadlessChromium:
    """A headless chromium child process with its own profile, and one page tab driven over DevTools."""

    def __init__(self, width: int = 1400, height: int = 900, startup_timeout: float = 30.0) -> None:
        self.port = free_port()
        self.size = (width, height)
        self.startup_timeout = startup_timeout
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> HeadlessChromium:
        binary = chromium_binary()
        if binary is None:
            raise RuntimeError("chromium not on PATH (apt-get install -y chromium)")
        # A helper that is still dying may write one more file: that must not fail the test at cleanup.
        self._profile = tempfile.TemporaryDirectory(prefix="tiro-chromium-", ignore_cleanup_errors=True)
        self._proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                f"--remote-debugging-port={self.port}",
                "--remote-debugging-address=127.0.0.1",
                f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._cleanup()
                raise RuntimeError("chromium exited at start")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/json/version", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # waiting for a child process to listen
        self._cleanup()
        raise RuntimeError(f"chromium did not open its DevTools port within {self.startup_timeout}s")

    def __exit__(self, *exc: Any) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self._proc is not None:
            stop_group(self._proc, grace=10)
            with contextlib.suppress(ProcessLookupError):  # chromium's helpers can outlive it, writing to the profile
                os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def page_url(self) -> str:
        """The DevTools websocket URL of the first page tab."""
        tabs = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=5).json()
        return next(t["webSocketDebuggerUrl"] for t in tabs if t.get("type") == "page")

    def load(self, url: str, expect: list[str], timeout: float = 30.0) -> RenderedPage:
        """Open `url` and wait until the rendered text contains every string of `expect` (or the timeout)."""
        return asyncio.run(self._load(url, expect, timeout))

    async def _load(self, url: str, expect: list[str], timeout: float) -> RenderedPage:
        ids = count(1)
        async with websockets.connect(self.page_url(), max_size=64 * 2**20) as ws:

            async def call(method: str, **params: Any) -> dict[str, Any]:
                message_id = next(ids)
                await ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
                while True:
                    reply = json.loads(await ws.recv())
                    if reply.get("id") == message_id:
                        if "error" in reply:
                            raise RuntimeError(f"DevTools {method}: {reply['error']}")
                        return reply.get("result", {})

            width, height = self.size
            await call(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )
            await call("Page.enable")
            await call("Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            text = ""
            while time.monotonic() < deadline:
                text = await _evaluate(call, "document.body ? document.body.innerText : ''")
                if all(e in text for e in expect):
                    break
                await asyncio.sleep(0.25)  # the single-page app renders on its own clock
            else:  # the caller's assertions say what is missing; this line says where it waited
                print(f"{url}: not rendered within {timeout}s: {[e for e in expect if e not in text]}", file=sys.stderr)
            await asyncio.sleep(1.0)  # let late requests of the page (charts, badges) settle before the picture
            text = await _evaluate(call, "document.body ? document.body.innerText : ''")
            html = await _evaluate(call, "document.documentElement.outerHTML")
            shot = await call("Page.captureScreenshot", format="png")
        return RenderedPage(url, text, html, base64.b64decode(shot["data"]))


async def _evaluate(call: Any, expression: str) -> str:
    result = await call("Runtime.evaluate", expression=expression, returnByValue=True)
    return str(result.get("result", {}).get("value", ""))


class RenderedPage:
    """What chromium rendered: the page's visible text, its DOM as HTML, and a PNG screenshot."""

    def __init__(self, url: str, text: str, html: str, png: bytes) -> None:
        self.url = url
        self.text = text
        self.html = html
        self.png = png

    def screenshot(self, path: Path) -> Path:
        """Write the screenshot to `path` (folders created)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.png)
        return path

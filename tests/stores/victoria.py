"""A real VictoriaMetrics process for tests and benchmarks: the `/api/v2/write` target that runs on this machine.

`VictoriaMetrics()` starts the `victoria-metrics` binary from PATH on a free loopback port with a temporary storage
directory, waits for `/health`, and stops it (by PID) on exit. Tests call `skip_without_victoria()` first, which skips
with the reason when the binary is missing.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any

import httpx

BINARY = "victoria-metrics"


def victoria_binary() -> str | None:
    """Path of the victoria-metrics binary, or None."""
    return shutil.which(BINARY)


def skip_without_victoria() -> None:
    """Skip the calling test when VictoriaMetrics is not installed."""
    import pytest

    if victoria_binary() is None:
        pytest.skip("victoria-metrics not on PATH (apt-get install -y victoria-metrics)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VictoriaMetrics:
    """A victoria-metrics child process on 127.0.0.1 with its own storage directory."""

    def __init__(self, startup_timeout: float = 20.0, *extra_args: str) -> None:
        self.extra_args = extra_args  # more flags for the binary, e.g. a higher -search.maxUniqueTimeseries
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> VictoriaMetrics:
        binary = victoria_binary()
        if binary is None:
            raise RuntimeError("victoria-metrics not on PATH (apt-get install -y victoria-metrics)")
        self._dir = tempfile.TemporaryDirectory(prefix="tiro-vm-")
        self._proc = subprocess.Popen(
            [
                binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self._dir.name}",
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",
                "-loggerLevel=ERROR",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self._cleanup()
                raise RuntimeError(f"victoria-metrics exited at start: {err[-500:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # waiting for a child process to listen, not synchronising test steps
        self._cleanup()
        raise RuntimeError(f"victoria-metrics did not answer /health within {self.startup_timeout}s")

    @property
    def pid(self) -> int | None:
        """The process id of the running binary (None before start or after stop)."""
        return self._proc.pid if self._proc is not None else None

    def __exit__(self, *exc: Any) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
        self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def export(self, match: str) -> list[dict[str, Any]]:
        """Series matching a selector from `/api/v1/export` (one JSON object per series: metric, values, timestamps)."""
        import json

        r = httpx.get(f"{self.url}/api/v1/export", params={"match[]": match}, timeout=30)
        r.raise_for_status()
        return [json.loads(line) for line in r.text.splitlines() if line.strip()]

    def export_points(self, match: str) -> dict[tuple[frozenset[tuple[str, str]], int], float]:
        """Points of the matching series as {(labels without __name__, ms timestamp): value}."""
        points: dict[tuple[frozenset[tuple[str, str]], int], float] = {}
        for series in self.export(match):
            labels = frozenset((k, v) for k, v in series["metric"].items() if k != "__name__")
            for ts, value in zip(series["timestamps"], series["values"], strict=True):
                points[(labels, ts)] = value
        return points

    def wait_for_points(self, match: str, count: int, timeout: float = 30.0) -> dict[Any, float]:
        """Poll the export until `count` points match (VictoriaMetrics makes new data visible after ~0.5 s)."""
        deadline = time.monotonic() + timeout
        points = self.export_points(match)
        while len(points) < count and time.monotonic() < deadline:
            time.sleep(0.1)  # VictoriaMetrics flushes on its own clock; polling is the only way to observe it
            httpx.get(f"{self.url}/internal/force_flush", timeout=10)
            points = self.export_points(match)
        return points

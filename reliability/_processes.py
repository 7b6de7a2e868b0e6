"""The processes of a reliability run: the recording mock server, `karez deploy` roles, and VictoriaMetrics.

Each is a real child process the cases can stop, kill and restart on the same port, so a fault looks to the rest of
the pipeline exactly as it would in production.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers 200 (RuntimeError after `timeout` s or when `proc` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # waiting for a child process to listen
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 60) -> int | None:
    """Signal a child process and wait for it (SIGKILL after `timeout`); its exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class RecordingMock:
    """`reliability/_recording_mock.py` on a fixed port, appending what it serves to `log`."""

    seed = 1  # of its values and instance ids: the accounting rebuilds the same listing from the model

    def __init__(self, scenario: Path, uses: list[Path], port: int, log: Path) -> None:
        self.scenario, self.uses, self.port, self.log = scenario, uses, port, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingMock:
        """Start and wait until `/points/` answers."""
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_recording_mock.py"), str(self.scenario), *map(str, self.uses),
             "--port", str(self.port), "--seed", str(self.seed), "--log", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_http(f"{self.url}/points/", 180, self.proc)
        return self

    def stop(self) -> None:
        """Stop gracefully (uvicorn finishes the requests in flight)."""
        stop(self.proc, signal.SIGINT)

    def served_offset(self) -> int:
        """Current size of the served log: where the next case's lines start."""
        return self.log.stat().st_size if self.log.exists() else 0


class KarezProcess:
    """One `karez deploy` process running the `kinds` (-d/-n/-v/-g flags) of a configuration, logging to `<name>.log`.

    Every process gets the whole configuration (references between roles are validated) and starts only its kinds."""

    def __init__(self, folder: Path, name: str, config: dict[str, Any], kinds: list[str], nats_url: str,
                 durable: bool, extra: list[str] | None = None, env: dict[str, str] | None = None):  # fmt: skip
        self.folder, self.name, self.nats_url, self.durable = folder, name, nats_url, durable
        self.kinds = kinds
        self.extra, self.env = list(extra or []), env  # more `karez deploy` options; environment added to ours
        (folder / "karez.yaml").write_text(json.dumps(config))  # JSON is YAML
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> KarezProcess:
        """Launch (again); the log is appended to."""
        with open(self.folder / f"{self.name}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "karez.cli", "deploy", "-c", "karez.yaml", *self.kinds,
                 "-a", self.nats_url, "--metrics-interval", "1", *(["--durable"] if self.durable else []),
                 *self.extra],
                cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **self.env} if self.env else None,
            )  # fmt: skip
        self.starts += 1
        return self

    def kill(self) -> None:
        """SIGKILL: no drain, no flush, no ack."""
        stop(self.proc, signal.SIGKILL)

    def terminate(self) -> int | None:
        """SIGTERM (drains in-flight messages) and wait; the exit code."""
        return stop(self.proc, signal.SIGTERM, timeout=120)

    def alive(self) -> bool:
        """Still running."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 5) -> list[str]:
        """The last lines of its log (for notes on failures)."""
        path = self.folder / f"{self.name}.log"
        return path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []


class Victoria:
    """A victoria-metrics process on a fixed port and storage directory that survive a stop/start."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.dir = Path(tempfile.mkdtemp(prefix="tiro-reliability-vm-"))
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        """The binary is installed."""
        return shutil.which("victoria-metrics") is not None

    def start(self) -> Victoria:
        """Start and wait for /health."""
        self.proc = subprocess.Popen(
            [shutil.which("victoria-metrics") or "victoria-metrics", f"-httpListenAddr=127.0.0.1:{self.port}",
             f"-storageDataPath={self.dir}", "-retentionPeriod=100y", "-search.latencyOffset=0s",
             "-loggerLevel=ERROR"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_http(f"{self.url}/health", 30, self.proc)
        return self

    def stop(self) -> None:
        """Stop (SIGTERM, as an operator would)."""
        stop(self.proc, signal.SIGTERM)

    def close(self) -> None:
        """Stop and remove the storage."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def samples(self, measurement: str) -> list[tuple[str, int]]:
        """Every stored sample of a measurement as (data-point path, ms timestamp), duplicates included."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=30)
        match = f'{{__name__=~"{measurement}_.*"}}'
        r = httpx.get(f"{self.url}/api/v1/export", params={"match[]": match}, timeout=120)
        r.raise_for_status()
        out: list[tuple[str, int]] = []
        for line in r.text.splitlines():
            if line.strip():
                labels = json.loads(line)["metric"]
                # measurement_field is the metric name; asset path and category are tags: the data-point path again
                field = labels["__name__"].removeprefix(f"{measurement}_")
                path = f"{labels.get('asset_path')}.{labels.get('type')}.{field}"
                out.extend((path, ts) for ts in json.loads(line)["timestamps"])
        return out

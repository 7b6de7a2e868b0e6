"""Probes for the end-to-end pipeline bench: process memory, JetStream backlog, sqlite store progress and latency."""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def memory_of(pid: int) -> dict[str, int]:
    """Current and peak resident memory (bytes) of a live process, from /proc (psutil is not installed)."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return {"rss": fields.get("VmRSS", 0), "peak": fields.get("VmHWM", 0)}


def cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU seconds a live process has used so far (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


class MemoryWatch:
    """Peak RSS (the kernel's high-water mark), RSS and CPU-time traces of named processes, sampled on demand."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak: dict[str, int] = dict.fromkeys(pids, 0)
        self.trace: dict[str, list[int]] = {name: [] for name in pids}
        self.cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}

    def sample(self) -> None:
        """Read every process's RSS and high-water mark once."""
        for name, pid in self.pids.items():
            cpu = cpu_seconds_of(pid)
            if cpu is not None:
                self.cpu[name].append((time.monotonic(), cpu))
            mem = memory_of(pid)
            if mem:
                self.peak[name] = max(self.peak[name], mem["peak"])
                self.trace[name].append(mem["rss"])

    def summary(self) -> dict[str, dict[str, float]]:
        """Peak RSS and RSS change (MiB) and the share of one core used, first to last sample, per process."""
        out = {}
        for name in self.pids:
            trace, cpu = self.trace[name], self.cpu[name]
            busy = (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]) if len(cpu) >= 2 else 0.0
            out[name] = {
                "peak_rss_mib": round(self.peak[name] / MIB, 1),
                "rss_change_mib": round((trace[-1] - trace[0]) / MIB, 1) if len(trace) >= 2 else 0.0,
                "cpu_cores": round(busy, 2),
            }
        return out


async def jetstream_backlog(js_manager: Any) -> dict[str, int]:
    """Messages not yet delivered plus delivered-but-unacked, per durable consumer (`stream/consumer`)."""
    backlog: dict[str, int] = {}
    for stream in await js_manager.streams_info():
        name = stream.config.name
        if name.startswith("KAREZ_DLQ"):
            continue
        for consumer in await js_manager.consumers_info(name):
            backlog[f"{name}/{consumer.name}"] = (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
    return backlog


def slope_per_s(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (time, value) samples: how fast a backlog grows (0 with fewer than 3 samples)."""
    if len(samples) < 3:
        return 0.0
    times, values = zip(*samples, strict=True)
    try:
        return statistics.linear_regression(times, values).slope
    except statistics.StatisticsError:
        return 0.0


class StoreWatch:
    """Follows the sqlite telemetry store: rows written, and mock→store latency of a sample of series.

    The store keeps each series' newest sample timestamp (`last_ns`, the mock's generation time). Polling a fixed
    1-in-`stride` subset of series, every change of `last_ns` is a sample that has just become readable: its latency
    is the poll time minus its timestamp, so the figure is an upper bound within one poll period."""

    def __init__(self, db: Path, stride: int = 64) -> None:
        self.db = db
        self.stride = stride
        self._conn: sqlite3.Connection | None = None
        self._last: dict[int, int] = {}
        self.latencies: list[float] = []
        self.record_latency = False

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.db.exists():
                return None
            self._conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        return self._conn

    def poll(self) -> None:
        """Note the series whose newest sample changed since the last poll, with their latency."""
        conn = self._connection()
        if conn is None:
            return
        try:
            rows = conn.execute(
                "SELECT id, last_ns FROM telemetry_series WHERE id % ? = 0 AND last_ns IS NOT NULL", (self.stride,)
            ).fetchall()
        except sqlite3.OperationalError:  # schema not created yet, or the writer holds a lock
            return
        now = time.time()
        for series, last_ns in rows:
            if self._last.get(series) != last_ns:
                # series first seen after recording starts are new samples too (the first round of a slow store)
                if self.record_latency:
                    self.latencies.append(now - last_ns / 1e9)
                self._last[series] = last_ns

    def rows(self) -> int:
        """Samples stored so far."""
        conn = self._connection()
        if conn is None:
            return 0
        try:
            return conn.execute("SELECT count(*) FROM telemetry_samples").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    def series(self) -> int:
        """Distinct data points stored so far."""
        conn = self._connection()
        if conn is None:
            return 0
        try:
            return conn.execute("SELECT count(*) FROM telemetry_series WHERE last_ns IS NOT NULL").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    def latency_summary(self) -> dict[str, Any]:
        """p50/p99/max of the noted latencies, in seconds."""
        values = sorted(self.latencies)
        if not values:
            return {"samples": 0}

        def pick(q: float) -> float:
            return round(values[min(len(values) - 1, int(q * len(values)))], 3)

        return {"samples": len(values), "p50_s": pick(0.50), "p99_s": pick(0.99), "max_s": round(values[-1], 3)}

    def close(self) -> None:
        """Close the reader connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

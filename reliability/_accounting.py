"""Exact counts of a case: what the mock served, what entered the pipeline, what the stores hold.

Every sample is keyed by (data-point path, timestamp). The figures:
- `points_sent`: samples the connector published into the pipeline (one message per `Nats-Msg-Id`: the one the
  store holds, else the first), plus any sample found in a store (it was sent, even if the tap was reconnecting);
- `stored`, `lost` (sent but in no store), `duplicated` (per path, samples stored beyond the number of tasks that
  asked for it, plus repeated store rows of one key);
- `mock_served` and `served_not_stored`: everything the mock answered, and what of it the store does not have
  (includes answers that never entered the pipeline: a response in flight when its process died, a re-fetch of a
  redelivered task whose first answer was already kept, a request cut by a fault);
- `dispatched_points` / `dispatched_not_stored`: task-level view (a tick whose fetch failed shows up here).

A store that holds only some series (VictoriaMetrics gets the telemetry, not the attributes) is counted over the
paths it is expected to hold, which come from the model, never from what the store holds: a path whose every sample
was lost must count as lost, not vanish from both "sent" and "lost".
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from _tap import timestamp_ns

Key = tuple[str, int]  # (data-point path, timestamp in ns)


class Observed(Protocol):
    """What the counts need of the tap: samples per published message id (its variants) and tasks per path."""

    collected_by_id: dict[str, list[set[Key]]]
    tasks_per_path: Counter[str]


@dataclass
class ObservedSubset:
    """The part of an observation that concerns some paths only."""

    collected_by_id: dict[str, list[set[Key]]] = field(default_factory=dict)
    tasks_per_path: Counter[str] = field(default_factory=Counter)


def served_since(log: Path, offset: int) -> Counter[tuple[str, int]]:
    """Samples the recording mock served from byte `offset` of its log on (a count per key)."""
    served: Counter[tuple[str, int]] = Counter()
    with open(log, "rb") as f:
        f.seek(offset)
        for line in f:
            if line.endswith(b"\n"):
                served.update((path, timestamp_ns(ts)) for path, ts in orjson.loads(line)["points"])
    return served


def sqlite_rows(db: Path) -> Counter[tuple[str, int]]:
    """Every telemetry sample in a sqlite store as (path, ts_ns), counted."""
    if not db.exists():
        return Counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
    try:
        rows = conn.execute(
            "SELECT s.dp_path, t.ts_ns FROM telemetry_samples t JOIN telemetry_series s ON s.id = t.series"
        ).fetchall()
    except sqlite3.OperationalError:
        rows = []
    finally:
        conn.close()
    return Counter(map(tuple, rows))


def sqlite_count(db: Path) -> int:
    """Rows in the sample table right now (0 before the store created it or while it is locked)."""
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)
        try:
            return conn.execute("SELECT count(*) FROM telemetry_samples").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return -1


def account(served: Counter[Key], tap: Observed, rows: Counter[Key], resolution_ns: int = 1) -> dict[str, Any]:
    """The counts of one store; `resolution_ns` coarsens keys for stores that keep less precision (ms)."""

    def key(k: tuple[str, int]) -> tuple[str, int]:
        return (k[0], k[1] // resolution_ns) if resolution_ns > 1 else k

    served_keys = {key(k) for k in served}
    stored_keys = {key(k) for k in rows}
    sent, refetched = set(), set()
    for variants in tap.collected_by_id.values():
        # one task published again after a redelivery: JetStream kept the variant the store holds (else the first)
        keyed = [{key(k) for k in keys} for keys in variants]
        kept = max(range(len(keyed)), key=lambda i: (len(keyed[i] & stored_keys), -i))
        sent |= keyed[kept]
        refetched |= set().union(*(keys for i, keys in enumerate(keyed) if i != kept))
    sent |= stored_keys & served_keys
    per_path = Counter(path for path, _ in stored_keys & served_keys)
    over_tasks = sum(max(0, n - tap.tasks_per_path.get(p, 0)) for p, n in per_path.items())
    under_tasks = sum(max(0, n - per_path.get(p, 0)) for p, n in tap.tasks_per_path.items())
    repeated_rows = sum(n - 1 for n in rows.values() if n > 1)
    return {
        "points_sent": len(sent),
        "stored": len(sent & stored_keys),
        "lost": len(sent - stored_keys),
        "duplicated": over_tasks + repeated_rows,
        "mock_served": len(served_keys),
        "served_not_stored": len(served_keys - stored_keys),
        "dispatched_points": sum(tap.tasks_per_path.values()),
        "dispatched_not_stored": under_tasks,
        "refetched_deduplicated": len(refetched - stored_keys),
        "stored_never_served": len(stored_keys - served_keys),
    }


def account_paths(
    served: Counter[Key], tap: Observed, rows: Counter[Key], paths: AbstractSet[str], resolution_ns: int = 1
) -> dict[str, Any]:
    """`account` restricted to the samples of `paths`: the expected series of a store that holds only some."""
    subset = ObservedSubset(
        {
            msg_id: [{k for k in keys if k[0] in paths} for keys in variants]
            for msg_id, variants in tap.collected_by_id.items()
        },
        Counter({p: n for p, n in tap.tasks_per_path.items() if p in paths}),
    )
    on_paths = Counter({k: n for k, n in served.items() if k[0] in paths})
    return account(on_paths, subset, rows, resolution_ns=resolution_ns)

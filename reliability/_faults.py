"""The injected faults: each acts on the live processes of a run and returns a one-line note of what it did."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from _pipeline import STORE_CATEGORY, Run

from karez.frames import COMPACT, ENCODING_HEADER, encode_frames

STORE_OUTAGE_S = 30.0
MOCK_OUTAGE_S = 10.0
_FRAME = {
    "_karez": {},
    "_frame": {"v": 1, "schema": "tiro.points"},
    "columns": {"path": [], "value": [], "timestamp": [], "unit": []},
}
_SHARED_ELSEWHERE = {
    "_karez": {},
    "_frame": {"v": 1, "schema": "tiro.records", "model": "tiro.series/1:0", "shared": "0" * 32},
    "columns": {"value": [1.0], "timestamp": [1.8e9], "series": [0]},
}
_COMPACT = {ENCODING_HEADER: COMPACT}
POISON: tuple[tuple[str, bytes, dict[str, str] | None], ...] = (
    ("karez.converter.tiro_preprocess", b"\x00\xff this is not JSON {", None),
    ("karez.converter.tiro_preprocess", b'[{"path": 42, "result": ["wrong", "shape"]}]', None),
    ("karez.converter.tiro_preprocess", encode_frames([_FRAME], COMPACT)[:-9], _COMPACT),  # truncated
    (f"karez.{STORE_CATEGORY}.poison", b"not JSON either", None),
    (  # a frame of a model this process does not know
        f"karez.{STORE_CATEGORY}.poison",
        encode_frames([{**_FRAME, "_frame": {"v": 1, "schema": "other.model"}}], COMPACT),
        _COMPACT,
    ),
    (  # series ids whose shared columns (karez.shared_columns) the bucket does not hold
        f"karez.{STORE_CATEGORY}.poison",
        encode_frames([_SHARED_ELSEWHERE], COMPACT),
        _COMPACT,
    ),
)


async def kill_roles(run: Run) -> str:
    """SIGKILL both role processes (collection chain and stores) mid-stream, then start them again."""
    await asyncio.to_thread(run.roles.kill)
    await asyncio.to_thread(run.store.kill)
    killed = time.monotonic()
    run.roles.start()
    run.store.start()
    return f"SIGKILL of the roles and stores processes, restarted {time.monotonic() - killed:.1f} s later"


async def restart_nats(run: Run) -> str:
    """Stop nats-server (SIGTERM) and start it again on the same port and JetStream store dir."""
    began = time.monotonic()
    await asyncio.to_thread(run.nats.restart)
    return f"nats-server restarted on the same port and file store, down {time.monotonic() - began:.1f} s"


async def lock_sqlite(run: Run) -> str:
    """Hold an exclusive transaction on the sqlite store for 30 s: every write from tiro_store fails meanwhile."""

    def locked() -> float:
        conn = sqlite3.connect(run.db, timeout=60, isolation_level=None)
        try:
            waited = time.monotonic()
            conn.execute("BEGIN EXCLUSIVE")
            got = time.monotonic()
            time.sleep(STORE_OUTAGE_S)  # the outage itself: the lock must be held this long
            conn.execute("ROLLBACK")
            return got - waited
        finally:
            conn.close()

    waited = await asyncio.to_thread(locked)
    return f"sqlite store exclusively locked by another connection for {STORE_OUTAGE_S:.0f} s (waited {waited:.1f} s)"


async def stop_victoria(run: Run) -> str:
    """Stop VictoriaMetrics for 30 s, then start it on the same port and storage."""
    assert run.victoria is not None
    await asyncio.to_thread(run.victoria.stop)
    await asyncio.sleep(STORE_OUTAGE_S)
    await asyncio.to_thread(run.victoria.start)
    return f"VictoriaMetrics stopped for {STORE_OUTAGE_S:.0f} s and restarted on the same port and storage"


async def stop_store_both(run: Run) -> str:
    """The sqlite lock and the VictoriaMetrics outage at the same time."""
    notes = await asyncio.gather(lock_sqlite(run), stop_victoria(run))
    return "; ".join(notes)


async def inject_poison(run: Run) -> str:
    """Publish malformed messages into the collection chain and the store category, among the real traffic."""
    for subject, data, headers in POISON:
        await run.tap.nc.publish(subject, data, headers=headers)
    await run.tap.nc.flush()
    return (
        f"{len(POISON)} poison messages: non-JSON, a wrong shape and a truncated frame into tiro_preprocess, non-JSON"
        ", a frame of another model and one whose shared columns are nowhere into tiro_store"
    )


async def stop_mock(run: Run) -> str:
    """Stop the mock server for 10 s and start it again on the same port."""
    began = time.monotonic()
    await asyncio.to_thread(run.setup.mock.stop)
    await asyncio.sleep(MOCK_OUTAGE_S)
    await asyncio.to_thread(run.setup.mock.start)
    return f"mock server down {time.monotonic() - began:.1f} s (10 s, then its start-up)"

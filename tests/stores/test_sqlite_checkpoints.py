"""WAL checkpoints in a thread of their own: writers keep only a backstop, the thread copies the log, close stops it."""

from __future__ import annotations

import logging
import time

from sqlite_records import SERVER, T0, rec

from tiro.stores.sqlite.checkpoints import BACKSTOP_PAGES, WalCheckpointer
from tiro.stores.sqlite.graph import SqliteGraphStore
from tiro.stores.sqlite.telemetry import SqliteTelemetryStore


def _until(condition, what: str, timeout: float = 20) -> None:
    """Poll what a thread updates (the bound only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_the_thread_copies_the_log_into_the_file_and_stops_on_close(tmp_path):
    telemetry = SqliteTelemetryStore(str(tmp_path / "t.db"))
    graph = SqliteGraphStore(telemetry=telemetry)
    db = telemetry.db
    assert db.writer.execute("PRAGMA wal_autocheckpoint").fetchone() == (BACKSTOP_PAGES,)
    for round_ in range(20):
        graph.upsert_records([rec(f"P{i}", float(i), T0 + round_, asset=SERVER) for i in range(500)])
    checkpointer = db._checkpointer
    assert checkpointer is not None
    _until(lambda: checkpointer.pages > 0, "a checkpoint that copied log pages")
    thread = checkpointer._thread
    graph.close()
    assert not thread.is_alive()
    reopened = SqliteTelemetryStore(str(tmp_path / "t.db"))
    assert len(reopened.latest()) == 500
    reopened.close()


def test_a_memory_database_has_no_log_and_no_thread():
    store = SqliteTelemetryStore()
    store.write_records([rec("A", 1.0, T0)])
    assert store.db._checkpointer is None
    store.close()


def test_a_checkpoint_that_fails_is_logged_once_and_the_thread_goes_on(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="tiro.stores.sqlite.checkpoints")
    checkpointer = WalCheckpointer(str(tmp_path))  # a folder: sqlite cannot open it
    try:
        for _ in range(3):
            checkpointer.wrote()
            _until(lambda: not checkpointer._wrote.is_set(), "the thread to take the write")
        _until(lambda: len(caplog.records) == 1, "the warning")
        assert str(tmp_path) in caplog.records[0].getMessage() and checkpointer._thread.is_alive()
    finally:
        checkpointer.close()
    assert checkpointer.checkpoints == 0 and len(caplog.records) == 1

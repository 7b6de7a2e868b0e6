"""WAL checkpoints of a sqlite file in a thread of their own, so that writers never wait for them.

A checkpoint copies the pages of the write-ahead log into the database file and syncs it. sqlite runs one in the
commit that takes the log past `wal_autocheckpoint` pages; measured here, a checkpoint of 800-1,400 pages takes
30-47 ms of which 4-7 ms are CPU: the rest is waiting for the disk, which blocked the event loop the stores write on,
and made the first round of a 10^5-point hall (every page new) spend 10 µs per record in commits. The thread runs
PASSIVE checkpoints (they never block a writer or a reader) with its own connection; sqlite leaves the GIL while it
works. Writers keep a high automatic threshold as a backstop, should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

__all__ = ["BACKSTOP_PAGES", "WalCheckpointer"]

BACKSTOP_PAGES = 25_000  # a writer checkpoints itself only past this log size (about 100 MB)
_EVERY_S = 0.2  # how often the thread looks for new log pages while writes go on
_log = logging.getLogger(__name__)


class WalCheckpointer:
    """A daemon thread that checkpoints the WAL of the sqlite file at `path` after `wrote()` is called."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.checkpoints = 0  # checkpoints run
        self.pages = 0  # log pages they copied into the file
        self._wrote = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoints:{path}", daemon=True)
        self._thread.start()

    def wrote(self) -> None:
        """A write was committed: checkpoint soon."""
        self._wrote.set()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        failed = False
        try:
            while not self._stop.is_set():
                if not self._wrote.wait(1.0):
                    continue
                self._stop.wait(_EVERY_S)  # let a burst of commits gather into one checkpoint
                self._wrote.clear()
                try:
                    conn = conn or sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                    _busy, _log_pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # the writers' backstop still bounds the log
                    if not failed:
                        _log.warning("WAL checkpoints of %s failed (%s); its writers do them", self.path, exc)
                    failed = True
                    continue
                failed = False
                self.checkpoints += 1
                self.pages += max(copied, 0)
        finally:
            if conn is not None:
                conn.close()

    def close(self) -> None:
        """Stop the thread (after the checkpoint it may be running)."""
        self._stop.set()
        self._wrote.set()
        self._thread.join()

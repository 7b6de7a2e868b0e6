"""`SqliteDatabase`: one sqlite file's connections, pragmas and write lock, shared by the stores of that file."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tiro.stores.sqlite.checkpoints import BACKSTOP_PAGES, WalCheckpointer

__all__ = ["SqliteDatabase", "is_lock_timeout"]

_LOCK_WAIT_S = 30.0  # how long a write waits for another connection's write lock before "database is locked"
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteDatabase:
    """One sqlite file (or a private in-memory database): a locked writer connection plus a reader per thread."""

    def __init__(self, path: str | None) -> None:
        self.path = path  # None: in memory
        self.lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        self._memory = path is None  # a private in-memory database: readers share the writer connection
        self._checkpointer: WalCheckpointer | None = None
        if path is not None:
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                raise FileNotFoundError(2, "the folder of the sqlite database does not exist", path)
        self.writer = self._connect()
        if not self._memory:
            self.writer.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")

    def _connect(self) -> sqlite3.Connection:
        try:
            if self._memory:
                conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            else:
                assert self.path is not None  # a file database
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=_LOCK_WAIT_S)
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across application crashes in WAL mode
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA cache_size=-65536")
        except sqlite3.Error as exc:
            raise ConnectionError(f"cannot open sqlite database {self.describe()}: {exc}") from None
        return conn

    @contextmanager
    def lock_wait(self, seconds: float) -> Iterator[None]:
        """Inside the block, writes wait at most `seconds` for another connection's write lock (then they raise
        "database is locked", see `is_lock_timeout`) instead of the usual 30 s."""
        with self.lock:
            self.writer.execute(f"PRAGMA busy_timeout = {max(0, int(seconds * 1000))}")
            try:
                yield
            finally:
                if not self._closed:
                    self.writer.execute(f"PRAGMA busy_timeout = {int(_LOCK_WAIT_S * 1000)}")

    def wrote(self) -> None:
        """Note a committed write: a thread of this database copies the log into the file (see checkpoints)."""
        if self._memory or self._closed:
            return
        if self._checkpointer is None:
            assert self.path is not None  # a file database
            self._checkpointer = WalCheckpointer(self.path)
        self._checkpointer.wrote()

    def describe(self) -> str:
        """The store URL of this database."""
        return f"sqlite:///{self.path}" if self.path is not None else "sqlite://"

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL readers never block the writer); the writer's for memory databases."""
        if self._closed:
            raise ConnectionError(f"{self.describe()} is closed")
        if self._memory:
            return self.writer
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            with self.lock:
                self._readers.append(conn)
        return conn

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a parameterised query."""
        if self._memory:
            with self.lock:
                return self.writer.execute(sql, tuple(params)).fetchall()
        return self.reader().execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        """Close every connection."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            if self._checkpointer is not None:
                self._checkpointer.close()
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self.writer.close()


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether `exc` is sqlite giving up on a lock another connection holds (the write itself may succeed later)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and code is not None and code & 0xFF in _BUSY_CODES

"""Window results in the sqlite telemetry file: table `window_results`, one row per (window, source)."""

from __future__ import annotations

from typing import Any

from tiro.stores.sqlite.database import SqliteDatabase
from tiro.stores.sqlite.transactions import transaction
from tiro.stores.window_results import WindowResult, WindowResultStore

__all__ = ["SqliteWindowResults"]

_COLUMNS = (
    "start",
    "end",
    "valid",
    "completeness",
    "expected",
    "received",
    "missing",
    "invalid",
    "unknown",
    "errors",
    "messages",
    "late",
    "source",
)
_SCHEMA = """CREATE TABLE IF NOT EXISTS window_results (
    start REAL NOT NULL, "end" REAL NOT NULL, valid INTEGER NOT NULL, completeness REAL NOT NULL,
    expected INTEGER NOT NULL, received INTEGER NOT NULL, missing INTEGER NOT NULL, invalid INTEGER NOT NULL,
    unknown INTEGER NOT NULL, errors INTEGER NOT NULL, messages INTEGER NOT NULL, late INTEGER NOT NULL,
    source TEXT NOT NULL, PRIMARY KEY ("end", start, source)
) WITHOUT ROWID"""
_QUOTED = ", ".join(f'"{c}"' for c in _COLUMNS)
_INSERT = f"INSERT OR REPLACE INTO window_results ({_QUOTED}) VALUES ({', '.join('?' * len(_COLUMNS))})"


class SqliteWindowResults(WindowResultStore):
    """Window results in a sqlite file (`path`; None: in memory), next to the telemetry tables of that file."""

    def __init__(self, path: str | None = None) -> None:
        self.db = SqliteDatabase(path)
        with self.db.lock:
            self.db.writer.execute(_SCHEMA)

    def write(self, result: WindowResult) -> None:
        """Insert the window's row, replacing an earlier one of the same window and source."""
        row = tuple(getattr(result, c) for c in _COLUMNS)
        with self.db.lock:
            with transaction(self.db.writer):
                self.db.writer.execute(_INSERT, (*row[:2], int(result.valid), *row[3:]))
            self.db.wrote()

    def recent(self, limit: int = 20, source: str | None = None) -> list[WindowResult]:
        """The `limit` most recent windows by end time, oldest first."""
        where, params = ("WHERE source = ?", (source,)) if source is not None else ("", ())
        rows = self.db.read(
            f'SELECT {_QUOTED} FROM window_results {where} ORDER BY "end" DESC, start DESC LIMIT ?', (*params, limit)
        )
        return [_result(row) for row in reversed(rows)]

    def close(self) -> None:
        """Close the file."""
        self.db.close()


def _result(row: tuple[Any, ...]) -> WindowResult:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["valid"] = bool(values["valid"])
    return WindowResult(**values)

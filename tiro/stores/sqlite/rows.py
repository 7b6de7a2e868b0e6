"""Many rows into one sqlite table in few statements: multi-row VALUES of power-of-two sizes.

`executemany` steps and resets one statement per row, and that bookkeeping (not the b-tree work) is most of its cost:
measured 2-3x slower than the same rows bound to statements of 256 rows. Sizes are powers of two, so a batch of any
length needs at most one statement per size and every statement text stays in the connection's statement cache.
An optional tail (an `ON CONFLICT ... DO UPDATE` clause) makes the statements multi-row upserts; an optional row
template (`(?, CAST(? * 1e9 AS INTEGER), ?)`) lets sqlite compute a column from what is bound.
"""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["MultiRowInsert"]

_MAX_ROWS = 256


class MultiRowInsert:
    """An INSERT head (`INSERT ... INTO table (columns)`) run over flat row values, `width` values per row; `tail`
    follows the VALUES (an upsert clause); `row` is the VALUES row with its `width` placeholders."""

    def __init__(
        self, head: str, width: int, max_rows: int = _MAX_ROWS, *, tail: str = "", row: str | None = None
    ) -> None:
        if width < 1 or max_rows < 1 or max_rows & (max_rows - 1):
            raise ValueError(f"width must be ≥ 1 and max_rows a power of two, got {width}, {max_rows}")
        self.row = row or "(" + ",".join("?" * width) + ")"
        if self.row.count("?") != width:
            raise ValueError(f"row {self.row!r} does not have {width} placeholders")
        self.head = head
        self.tail = f" {tail}" if tail else ""
        self.width = width
        self.max_rows = max_rows
        self._sql: dict[int, str] = {}
        self._fitted = False

    def _statement(self, rows: int) -> str:
        sql = self._sql.get(rows)
        if sql is None:
            sql = self._sql[rows] = f"{self.head} VALUES {','.join([self.row] * rows)}{self.tail}"
        return sql

    def _fit(self, conn: sqlite3.Connection) -> None:
        # a library built with a lower variable limit (999 before sqlite 3.32) gets smaller statements
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        while self.max_rows > 1 and self.max_rows * self.width > limit:
            self.max_rows //= 2
        self._fitted = True

    def execute(self, cur: sqlite3.Cursor, values: list[Any]) -> int:
        """Insert the rows of `values` (len a multiple of `width`) in row order; returns how many rows."""
        width = self.width
        count, extra = divmod(len(values), width)
        if extra:
            raise ValueError(f"{len(values)} values do not make rows of {width}")
        if not self._fitted:
            self._fit(cur.connection)
        step = self.max_rows * width
        full = count - count % self.max_rows
        if full:
            cur.executemany(
                self._statement(self.max_rows), [values[i : i + step] for i in range(0, full * width, step)]
            )
        pos = full * width
        size = self.max_rows // 2
        while pos < len(values):
            end = pos + size * width
            if end <= len(values):
                cur.execute(self._statement(size), values[pos:end])
                pos = end
            size //= 2
        return count

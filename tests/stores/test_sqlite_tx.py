"""sqlite transactions: the block's writes are committed together, or none of them when it fails."""

from __future__ import annotations

import sqlite3

import pytest

from tiro.stores.sqlite.transactions import transaction


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    return conn


def test_a_block_that_ends_is_committed() -> None:
    conn = _db()
    with transaction(conn.cursor()):
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (2)")
    assert not conn.in_transaction
    assert [x for (x,) in conn.execute("SELECT x FROM t")] == [1, 2]


def test_a_block_that_fails_writes_nothing_and_the_error_propagates() -> None:
    conn = _db()
    with pytest.raises(sqlite3.IntegrityError), transaction(conn.cursor(), "BEGIN"):
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (1)")
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)

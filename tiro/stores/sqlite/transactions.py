"""One explicit sqlite transaction around a block: COMMIT at its end, ROLLBACK (and re-raise) if anything fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["transaction"]


@contextmanager
def transaction(cur: Any, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    """Run the block inside `begin` … COMMIT; any exception, a failed COMMIT included, rolls back and propagates."""
    cur.execute(begin)
    try:
        yield
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise

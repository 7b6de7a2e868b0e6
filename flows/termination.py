"""Long-running service flows stop cleanly when a worker cancels them (it sends SIGTERM to the run's process)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigterm_sets(stop: asyncio.Event) -> Iterator[bool]:
    """While the block runs, SIGTERM (how a worker cancels a run) sets `stop` instead of tearing down the loop.

    Prefect's own handler is restored afterwards; whether it could be replaced (only in the main thread) is yielded.
    """
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    except (RuntimeError, ValueError, NotImplementedError):
        yield False
        return
    try:
        yield True
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, previous)

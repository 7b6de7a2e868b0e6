"""The event loop `karez deploy` runs its roles on: uvloop where it is installed, asyncio's own otherwise."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

LOOP_ENV = "KAREZ_EVENT_LOOP"  # "asyncio" runs the roles on asyncio's own loop even where uvloop is installed


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the loop to run roles on (None: asyncio's default)."""
    if os.environ.get(LOOP_ENV, "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # Windows has no uvloop
        return None
    return uvloop.new_event_loop

"""Live progress of the pipeline for whoever watches it in-process (the `tiro demo` display); no-op otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]
_listeners: list[Listener] = []


@contextmanager
def watching(listener: Listener) -> Iterator[None]:
    """Call `listener(stage, details)` for every progress report made while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def report(stage: str, **details: Any) -> None:
    """Tell the listeners (if any) that the pipeline reached `stage`; a failing listener never stops the job."""
    for listener in list(_listeners):
        try:
            listener(stage, details)
        except Exception:  # the display is not worth breaking a run for
            pass

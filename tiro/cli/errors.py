"""Turns bad input into one clear line on stderr and exit code 2, with the traceback only under --debug."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from tiro.stores.base import StoreError
from tiro_models.errors import TiroError

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")

# Bad input files, unreachable services and stores that refuse: one line and exit 2, not a traceback.
BAD_INPUT = (TiroError, OSError, ValueError, StoreError)

_debug = {"on": False}


def set_debug(on: bool) -> None:
    """Show full tracebacks for errors when `on` (the global --debug flag)."""
    _debug["on"] = on


def debug_enabled() -> bool:
    """Whether --debug was given."""
    return _debug["on"]


def fail(message: str) -> typer.Exit:
    """Print `error: message` to stderr and return the Exit for bad input (raise it)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(EXIT_BAD_INPUT)


def guarded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `fn`; bad input (TiroError, missing files, bad JSON) becomes a one-line error and exit 2."""
    try:
        return fn(*args, **kwargs)
    except BAD_INPUT as exc:
        if debug_enabled():
            raise
        raise fail(_describe(exc)) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def excepthook_main(app: typer.Typer) -> None:
    """Run `app`, catching anything a command let escape so users never see a raw traceback without --debug."""
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except BAD_INPUT as exc:
        if debug_enabled():
            raise
        typer.secho(f"error: {_describe(exc)}", err=True, fg=typer.colors.RED)
        sys.exit(EXIT_BAD_INPUT)

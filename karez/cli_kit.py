"""What the `karez` and `tiro` command lines share: output never wrapped or truncated, and `--version`.

Errors are grepped and log collectors parse lines, so a line break inserted at column 80 (rich's width when stdout is
not a terminal) or an ellipsis in a help table breaks them. Long lines are left to the terminal to fold.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
from rich.console import Console

# Click wraps help and usage text at min(terminal_width, max_content_width): this is "never" in practice.
UNWRAPPED_WIDTH = 1_000_000
UNWRAPPED_CONTEXT = {"terminal_width": UNWRAPPED_WIDTH, "max_content_width": UNWRAPPED_WIDTH}


def plain_typer(**kwargs: Any) -> typer.Typer:
    """A Typer app whose help, usage errors and tracebacks are plain unwrapped text (no rich panels)."""
    kwargs.setdefault("add_completion", False)
    settings = {**UNWRAPPED_CONTEXT, **kwargs.pop("context_settings", {})}
    return typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False, context_settings=settings, **kwargs)


def unwrapped_console(*, stderr: bool = False) -> Console:
    """A rich console that styles text on a terminal but never inserts line breaks or crops."""
    return Console(stderr=stderr, soft_wrap=True)


def distribution_version() -> str:
    """The installed version of the distribution that ships both commands."""
    try:
        return version("tiro")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "unknown"


def version_option(program: str) -> Any:
    """A `--version` option for a root callback: prints `<program> <version>` and exits 0."""

    def show(value: bool) -> None:
        if value:
            typer.echo(f"{program} {distribution_version()}")
            raise typer.Exit(0)

    callback: Callable[[bool], None] = show
    return typer.Option(False, "--version", callback=callback, is_eager=True, help="Print the version and exit.")


def unreachable_address(error: BaseException) -> str | None:
    """The URL of the server that `error` (or an error it was raised from) failed to reach; None for other errors."""
    import httpx

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.TransportError):
            try:
                return str(current.request.url)
            except RuntimeError:  # raised before a request was attached
                return "the server"
        current = current.__cause__ or current.__context__
    return None

"""The `echo` aggregator: print what arrives."""

from __future__ import annotations

from typing import Any

from karez.aggregator.base import AggregatorBase
from karez.cli_kit import unwrapped_console

_console = unwrapped_console()


class Aggregator(AggregatorBase):
    """Prints every received item."""

    def process(self, payload: Any) -> None:  # type: ignore[override]  # a sync process is awaited only if awaitable
        """Print `<name>:` then the payload."""
        _console.print(f"[bold]{self.name}:[/bold]")
        _console.print(payload)
        _console.print()

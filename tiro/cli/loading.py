"""Loading a scenario with its uses for a CLI command, with library warnings shown on stderr."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer

from tiro_models.compile import load_model
from tiro_models.spec import Model


def load(scenario: Path, uses: Sequence[Path], *, strict: bool = False, quiet: bool = False) -> Model:
    """Compile the scenario with its uses; warnings (unknown leaf names in lenient mode) go to stderr."""
    warnings: list[str] = []
    model = load_model(scenario, list(uses), strict=strict, warnings=warnings)
    if not quiet:
        show_warnings(warnings)
    return model


def show_warnings(warnings: Sequence[str]) -> None:
    """Print load warnings to stderr, one per line."""
    for warning in warnings:
        typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)

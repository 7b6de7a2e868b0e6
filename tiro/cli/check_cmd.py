"""`tiro check`: lint a scenario, its uses and its asset library (exit 1 when any error is found)."""

from __future__ import annotations

from pathlib import Path

import typer

from tiro.cli.errors import EXIT_INVALID, fail, guarded
from tiro_models.check import check
from tiro_models.errors import InputError


def check_command(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    uses: list[Path] = typer.Argument(..., help="One or more uses YAML files."),
) -> None:
    """Report unknown types, children and points, bad $number/$ids/$defaults and library problems, with file:line."""
    diagnostics = guarded(check, scenario, uses)
    unreadable = next((d for d in diagnostics if d.unreadable), None)
    if unreadable is not None:  # nothing to lint in a file that cannot be read: bad input, like every other command
        raise fail(str(InputError(unreadable.message, unreadable.file, unreadable.line)))
    errors = 0
    for diag in diagnostics:
        where = f"{diag.file}:{diag.line}: " if diag.line else (f"{diag.file}: " if diag.file else "")
        colour = typer.colors.RED if diag.severity == "error" else typer.colors.YELLOW
        typer.secho(f"{where}{diag.severity}: {diag.message}", fg=colour)
        errors += diag.severity == "error"
    if errors:
        raise typer.Exit(EXIT_INVALID)
    typer.secho(f"ok: no errors ({len(diagnostics)} warnings)", fg=typer.colors.GREEN)

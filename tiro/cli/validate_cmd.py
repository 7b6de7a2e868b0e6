"""`tiro validate test`: validate a snapshot file against the model (exit 0 valid, 1 invalid, 2 bad input)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from karez.cli_kit import plain_typer
from tiro.cli.errors import EXIT_INVALID, guarded
from tiro.cli.loading import load
from tiro.cli.output import emit, read_json, to_json
from tiro.cli.validate_history import history_command
from tiro_models.errors import SnapshotError
from tiro_models.spec import Model
from tiro_models.validate import ValidationResult, validate

app = plain_typer(no_args_is_help=True, help="Validate collected data against the model.")
app.command("history")(history_command)


@app.command("test")
def test(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    uses_and_input: list[Path] = typer.Argument(..., help="Uses YAML files, then the JSON snapshot to validate."),
    strict: bool = typer.Option(False, "--strict/--lenient", help="Also report unknown points, counts, staleness."),
    max_age: float | None = typer.Option(None, "--max-age", help="Strict mode: seconds after which data is stale."),
    as_json: bool = typer.Option(False, "--json/--no-json", help="Print the result as JSON."),
) -> None:
    """Validate INPUT (nested snapshot or flat {path: {value, timestamp}}) against SCENARIO + USES."""
    if len(uses_and_input) < 2:
        raise typer.BadParameter("give at least one uses file and the input JSON file")
    *uses, input_file = uses_and_input
    model = guarded(load, scenario, uses, strict=strict)
    result = guarded(_validate_file, model, input_file, strict=strict, max_age=max_age)
    if as_json:
        emit(to_json(result.to_dict()))
    else:
        _print_human(result)
    if not result.valid:
        raise typer.Exit(EXIT_INVALID)


def _validate_file(model: Model, input_file: Path, **options: Any) -> ValidationResult:
    """Validate the snapshot in `input_file`; a snapshot of the wrong shape is reported against that file."""
    snapshot = read_json(input_file)
    try:
        return validate(model, snapshot, **options)
    except SnapshotError as exc:
        if exc.file is not None:
            raise
        raise SnapshotError(exc.message, str(input_file), exc.line) from None


def offending(error: dict[str, Any]) -> str:
    """`; value 1200.5, allowed float in [0, 1000] W` for an error that has them, else ""."""
    parts = [f"value {error['value']!r}"] if "value" in error else []
    parts += [f"allowed {error['allowed']}"] if error.get("allowed") else []
    return f"; {', '.join(parts)}" if parts else ""


def _print_human(result) -> None:
    counts = result.to_dict().get("counts", {})
    if result.valid:
        typer.secho("Validation succeeded!", fg=typer.colors.GREEN)
    else:
        typer.secho("Validation failed!", fg=typer.colors.RED)
        for error in result.to_dict().get("errors", []):
            typer.echo(f"  {error['path']}: {error['msg']} ({error['type']}){offending(error)}")
    if counts:
        summary = ", ".join(f"{key} {value}" for key, value in counts.items())
        typer.echo(f"{summary}; completeness {result.to_dict().get('completeness', 0):.1%}")

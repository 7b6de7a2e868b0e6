"""`tiro schema show|example`: the JSON Schema of the required data, and an example snapshot."""

from __future__ import annotations

from pathlib import Path

import typer

from karez.cli_kit import plain_typer
from tiro.cli.errors import guarded
from tiro.cli.loading import load
from tiro.cli.output import emit, to_json
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.records import to_compact
from tiro_models.schema import json_schema

app = plain_typer(no_args_is_help=True, help="JSON Schema and example data of a scenario.")

ScenarioArg = typer.Argument(..., exists=False, help="Scenario YAML file.")
UsesArg = typer.Argument(..., help="One or more uses YAML files.")
OutputOpt = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout.")


@app.command("show")
def show(
    scenario: Path = ScenarioArg,
    uses: list[Path] = UsesArg,
    output: Path | None = OutputOpt,
    all_children: bool = typer.Option(
        True, "--all-children/--no-all-children", help="Require every child slot, even all-default ones."
    ),
) -> None:
    """Print the JSON Schema (2020-12) of the data the uses require."""
    model = guarded(load, scenario, uses)
    emit(to_json(json_schema(model, require_all_children=all_children)), output)


@app.command("example")
def example(
    scenario: Path = ScenarioArg,
    uses: list[Path] = UsesArg,
    output: Path | None = OutputOpt,
    compact: bool = typer.Option(False, "--compact/--no-compact", help="Values only, categories merged."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for reproducible ids and values."),
    reference: Path | None = typer.Option(None, "-r", "--reference", help="Reference YAML (ids, ranges)."),
    per_parent: bool = typer.Option(
        False, "--per-parent/--global-ids", help="Number asset ids per parent instead of globally."
    ),
    skip_defaults: bool = typer.Option(True, "--skip-defaults/--no-skip-defaults"),
    use_defaults: bool = typer.Option(True, "--use-defaults/--no-use-defaults"),
) -> None:
    """Print an example snapshot generated from the model, as JSON."""
    snapshot = guarded(
        _example, scenario, uses, seed, reference, per_parent, skip_defaults=skip_defaults, use_defaults=use_defaults
    )
    emit(to_json(to_compact(snapshot) if compact else snapshot), output)


def _example(
    scenario: Path,
    uses: list[Path],
    seed: int | None,
    reference: Path | None,
    per_parent: bool,
    *,
    skip_defaults: bool,
    use_defaults: bool,
) -> dict:
    from tiro.reference import read_reference

    ref = read_reference(reference) if reference else None
    model = load(scenario, uses)
    instances = instantiate(model, seed=seed, numbering="per_parent" if per_parent else "global", reference=ref)
    mocker = Mocker(instances, seed=seed, reference=ref)
    return mocker.snapshot(skip_defaults=skip_defaults, use_defaults=use_defaults)

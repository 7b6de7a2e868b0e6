"""`tiro draft scenario|uses|reference CSV`: drafts generated from a snapshot CSV."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from karez.cli_kit import plain_typer
from tiro.cli.errors import guarded
from tiro.cli.output import emit
from tiro_models.draft import draft, dump_yaml

app = plain_typer(no_args_is_help=True, help="Draft scenario, uses and reference files from a snapshot CSV.")


class NameStyle(StrEnum):
    """How names from the CSV are turned into YAML keys."""

    keep = "keep"
    camel = "camel"


CsvArg = typer.Argument(..., help="Snapshot CSV: data_point, asset, asset_type, parent_asset, value[, uuid].")
OutputOpt = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout.")
StyleOpt = typer.Option(NameStyle.keep, "--name-style", help="keep names as written, or CamelCase them.")


@app.command("scenario")
def scenario(
    csv: Path = CsvArg,
    output: Path | None = OutputOpt,
    name_style: NameStyle = StyleOpt,
    asset_library: str | None = typer.Option(
        None, "-l", "--asset-library", help="Asset library (module name or path) to name in the draft."
    ),
) -> None:
    """Draft a scenario YAML."""
    result = guarded(draft, csv, name_style=name_style.value, asset_library=asset_library)
    emit(dump_yaml(result.scenario), output)


@app.command("uses")
def uses(csv: Path = CsvArg, output: Path | None = OutputOpt, name_style: NameStyle = StyleOpt) -> None:
    """Draft a uses YAML."""
    emit(dump_yaml(guarded(draft, csv, name_style=name_style.value).uses), output)


@app.command("reference")
def reference(csv: Path = CsvArg, output: Path | None = OutputOpt, name_style: NameStyle = StyleOpt) -> None:
    """Draft a reference YAML (tree, value_range, uuid_map)."""
    emit(dump_yaml(guarded(draft, csv, name_style=name_style.value).reference), output)

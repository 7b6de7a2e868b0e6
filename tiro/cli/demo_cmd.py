"""`tiro demo`: the main job on embedded defaults."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tiro.cli.errors import EXIT_INVALID, guarded
from tiro.cli.loading import load
from tiro.examples import example_dir, example_files
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.records import flatten
from tiro_models.validate import validate


def demo_command(
    scenario_dir: Path = typer.Option(
        None, "--scenario", help="Example folder with scenario.yaml and use-*.yaml (default: the datahall example)."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed for the generated data."),
) -> None:
    """Compile the example scenario, generate a seeded snapshot and validate it."""
    console = Console()
    directory = scenario_dir or example_dir()
    scenario, uses = guarded(example_files, directory)
    started = time.perf_counter()
    model = guarded(load, scenario, uses)
    instances = instantiate(model, seed=seed)
    snapshot = Mocker(instances, seed=seed).snapshot()
    result = validate(model, snapshot)
    elapsed = time.perf_counter() - started

    console.print(f"[bold]Scenario[/bold] {scenario} with {', '.join(u.name for u in uses)}")
    table = Table("slot", "assets", "required points per asset", "unit(s)")
    for slot in model.walk():
        count = sum(1 for asset in instances.assets if asset.slot is slot)
        units = sorted({p.unit for p in slot.points.values() if p.unit})
        table.add_row(slot.type_path, str(count), ", ".join(slot.points) or "-", ", ".join(units) or "-")
    console.print(table)
    points = len(flatten(snapshot))
    summary = result.to_dict()
    colour = "green" if result.valid else "red"
    console.print(
        f"{len(instances.assets)} assets, {len(instances.points)} required data points; "
        f"generated {points} values (seed {seed}); validation [{colour}]{'valid' if result.valid else 'INVALID'}"
        f"[/{colour}], completeness {summary.get('completeness', 0):.0%}, in {elapsed:.2f} s"
    )
    if not result.valid:
        raise typer.Exit(EXIT_INVALID)

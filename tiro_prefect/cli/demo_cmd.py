"""`tiro demo`: the main job on embedded defaults (embedded NATS, sqlite stores, the datahall example)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

from karez.cli_kit import unwrapped_console
from tiro.cli.errors import EXIT_INVALID, guarded
from tiro.cli.loading import load
from tiro.examples import example_dir, example_files
from tiro.window_report import window_label
from tiro_models.instances import instantiate
from tiro_models.spec import Model
from tiro_prefect.cli.validate_window import quiet_local_prefect


def demo_command(
    scenario_dir: Path = typer.Option(
        None, "--scenario", help="Example folder with scenario.yaml, use-*.yaml and karez/ (default: datahall)."
    ),
    duration: float = typer.Option(30.0, "--duration", help="Seconds to collect, persist and validate."),
    window: float | None = typer.Option(None, "--window", help="Validation window in seconds (default: ~duration/3)."),
    seed: int = typer.Option(7, "--seed", help="Seed for the mock data."),
    workdir: Path = typer.Option(None, "--workdir", help="Where the sqlite store goes (default: a temp folder)."),
    offline: bool = typer.Option(
        False, "--offline/--pipeline", help="Only validate one generated snapshot (no NATS, no Prefect)."
    ),
) -> None:
    """Run the pipeline: mock server → Karez roles over an embedded NATS → sqlite stores, validated every window."""
    console = unwrapped_console()
    directory = scenario_dir or example_dir()
    scenario, uses = guarded(example_files, directory)
    model = guarded(load, scenario, uses)
    console.print(f"[bold]Scenario[/bold] {scenario} with {', '.join(u.name for u in uses)}")
    console.print(model_table(model, seed))
    if offline:
        validate_one_snapshot(console, model, seed)
        return
    window = window or max(2.0, min(10.0, duration / 3))
    if duration < window:
        raise typer.BadParameter(f"--duration {duration} is shorter than one window ({window} s)")
    summary = run_pipeline(console, directory, duration, window, seed, workdir)
    for line in [*summary_lines(summary), *next_steps(summary["store_url"], model)]:
        console.print(line, markup=False, highlight=False)
    if summary["windows_invalid"]:
        raise typer.Exit(EXIT_INVALID)


def model_table(model: Model, seed: int) -> Table:
    """Assets per slot with their required points and units (what the mock server will serve)."""
    instances = instantiate(model, seed=seed)
    table = Table("slot", "assets", "required points per asset", "unit(s)")
    for column in table.columns:  # a narrow terminal folds a cell onto more lines, never cuts it
        column.overflow = "fold"
    for slot in model.walk():
        count = sum(1 for asset in instances.assets if asset.slot is slot)
        units = sorted({p.unit for p in slot.points.values() if p.unit})
        table.add_row(slot.type_path, str(count), ", ".join(slot.points) or "-", ", ".join(units) or "-")
    table.caption = f"{len(instances.assets)} assets, {len(instances.points)} required data points"
    return table


def validate_one_snapshot(console: Console, model: Model, seed: int) -> None:
    """The offline demo: one seeded mock snapshot validated against the model (exit 1 when invalid)."""
    from tiro_models.mock import Mocker
    from tiro_models.records import flatten
    from tiro_models.validate import validate

    instances = instantiate(model, seed=seed)
    snapshot = Mocker(instances, seed=seed).snapshot()
    result = validate(model, snapshot)
    colour = "green" if result.valid else "red"
    console.print(
        f"generated {len(flatten(snapshot))} values (seed {seed}); validation "
        f"[{colour}]{'valid' if result.valid else 'INVALID'}[/{colour}], completeness {result.completeness:.0%}"
    )
    if not result.valid:
        raise typer.Exit(EXIT_INVALID)


class ProgressView:
    """What the live display shows: the stages reached and the running counts."""

    def __init__(self, duration: float) -> None:
        self.started = time.monotonic()
        self.duration = duration
        self.stages: list[str] = []
        self.counts: dict[str, Any] = {}
        self.windows: list[str] = []
        self.done = False

    def __call__(self, stage: str, details: dict[str, Any]) -> None:
        """Progress listener (flows.progress)."""
        if stage == "nats":
            self.stages.append(f"NATS {'embedded ' if details['embedded'] else ''}at {details['url']}")
        elif stage == "bootstrap":
            created = sum(len(r["created"]) for r in details["stores"].values())
            self.stages.append(f"stores bootstrapped ({created} objects created)")
        elif stage == "mock":
            self.stages.append(f"mock server at {details['url']}")
        elif stage == "roles":
            self.stages.append("Karez roles: " + ", ".join(f"{n} {k}" for k, n in details["roles"].items()))
        elif stage == "collecting":
            self.counts = {k: details[k] for k in ("collected", "persisted_records")}
        elif stage == "window":
            result = details["result"]
            verdict = "[green]valid[/green]" if result["valid"] else "[red]INVALID[/red]"
            span = window_label(result["start"], result["end"])
            points = f"{result['collection_size']} points, completeness {result['completeness']:.0%}"
            self.windows.append(f"window {span}: {verdict}, {points}")
        elif stage == "done":
            self.done = True

    def render(self) -> Group:
        """The current state as rich renderables."""
        elapsed = time.monotonic() - self.started
        head = "starting Prefect (ephemeral API)…" if not self.stages else f"running {elapsed:.0f} s"
        first: Any = f"done in {elapsed:.0f} s" if self.done else Spinner("dots", text=head)
        return Group(first, *self.lines(counts=True))

    def lines(self, *, counts: bool) -> list[str]:
        """The stages reached, the running counts (if `counts`) and the windows, one line each (rich markup)."""
        lines = [f"  ✓ {stage}" for stage in self.stages]
        if counts and self.counts:
            lines.append(
                f"  collected {self.counts['collected']} values, persisted {self.counts['persisted_records']} records"
            )
        return lines + [f"  {w}" for w in self.windows]


def run_pipeline(
    console: Console, directory: Path, duration: float, window: float, seed: int, workdir: Path | None
) -> dict[str, Any]:
    """Run flows.pipeline with a live progress display; its summary."""
    quiet_local_prefect("ERROR")  # the demo shows its own progress: Prefect's own warnings are noise here
    from tiro_prefect.flows.pipeline import pipeline  # Prefect loads only now, after the model summary is on screen
    from tiro_prefect.flows.progress import watching

    view = ProgressView(duration)
    # Transient: a live display crops its lines to the terminal; the final state is printed whole below.
    with Live(view.render(), console=console, refresh_per_second=4, transient=True) as live, watching(view):

        async def main() -> dict[str, Any]:
            refresher = asyncio.create_task(_refresh(live, view))
            try:
                return await pipeline(
                    scenario_dir=str(directory),
                    duration=duration,
                    window=window,
                    seed=seed,
                    workdir=str(workdir) if workdir else None,
                )
            finally:
                refresher.cancel()

        summary = asyncio.run(main())
    # printed after the run: a header for the stages below it, not a step of its own
    console.print(f"pipeline ran for {time.monotonic() - view.started:.0f} s:")
    for line in view.lines(counts=False):  # the summary has the final counts
        console.print(line, highlight=False)
    return summary


async def _refresh(live: Live, view: ProgressView) -> None:
    while True:
        live.update(view.render())
        await asyncio.sleep(0.25)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The final summary, one `name: value` line each (a table would cut the store URL in a narrow terminal)."""
    lines = ["", "Summary", f"  data points collected: {summary['collected']}"]
    lines.append(f"  records persisted: {summary['persisted_records']}")
    lines += [f"  in the {store} store: {count}" for store, count in summary["persisted"].items()]
    lines.append(f"  validation windows valid: {summary['windows_valid']}")
    lines.append(f"  validation windows invalid: {summary['windows_invalid']}")
    lines.append(f"  store: {summary['store_url']}")
    return lines


def next_steps(store_url: str, model: Model) -> list[str]:
    """What to do next: the commands that show what the demo stored, and where Prefect keeps its runs."""
    point = next((p for p in model.points.values() if p.category == "Telemetry"), None)
    lines = [
        "",
        "Look at what the demo stored:",
        f"  tiro query latest '%%' --store {store_url}",
    ]
    if point is not None:
        lines.append(f"  tiro query history '{point.type_path.replace('.', '%')}' --since 10m --store {store_url}")
    api = os.environ.get("PREFECT_API_URL")
    if api:
        ui = api.removesuffix("/").removesuffix("/api")
        lines.append(f"Prefect UI (this run, its artifacts and logs): {ui}/runs")
    else:
        lines.append("Prefect ran on a throw-away local API: to keep runs and watch them in the UI, start a server as")
        lines.append("docs/how-to/prefect.md shows and set PREFECT_API_URL before `tiro demo`.")
    return lines

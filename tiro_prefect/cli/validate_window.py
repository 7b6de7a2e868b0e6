"""`tiro validate window`: validate the data retained on NATS JetStream in a recent window (Prefect flow, local)."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from tiro.cli.errors import EXIT_INVALID, debug_enabled, fail, guarded
from tiro.cli.loading import load
from tiro.cli.output import emit, to_json
from tiro.window_report import WindowReport, window_label


def quiet_local_prefect(level: str = "WARNING") -> None:
    """Defaults for running flows on Prefect's ephemeral API from the CLI: `level` and above only, no telemetry."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", level)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
    # Prefect's events worker says "Still processing items: N items remaining..." while it flushes at exit: progress,
    # not a problem, and the one WARNING line a newcomer sees in `make demo`
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)


class _NotTheInvalidVerdict(logging.Filter):
    """Drops Prefect's "Finished in state Failed('window … is invalid: …')" line: the command prints the verdict."""

    def __init__(self, mark: str) -> None:
        super().__init__()
        self.mark = mark

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Finished in state Failed('window ") and self.mark in message)


def window_command(
    scenario: Path = typer.Option(..., "--scenario", help="Scenario YAML file."),
    uses: list[Path] = typer.Option(..., "--uses", help="Uses YAML file (repeat for several)."),
    window: float = typer.Option(60.0, "--window", help="Seconds up to now to validate."),
    start: datetime | None = typer.Option(None, "--start", help="Explicit window start (ISO 8601, UTC if naive)."),
    end: datetime | None = typer.Option(None, "--end", help="Explicit window end (ISO 8601, default now)."),
    strict: bool = typer.Option(False, "--strict/--lenient", help="Also report unknown points, counts, staleness."),
    max_age: float | None = typer.Option(None, "--max-age", help="Strict mode: seconds after which data is stale."),
    retention: float = typer.Option(3600.0, "--retention", help="max_age of the retention stream if it is created."),
    nats: str | None = typer.Option(None, "--nats", help="NATS URL (default: $KAREZ_NATS_ADDR, $NATS_URL, :4222)."),
    as_json: bool = typer.Option(False, "--json/--no-json", help="Print the report as JSON."),
) -> None:
    """Validate the latest value per data point retained in the window (exit 0 valid, 1 invalid, 2 bad input)."""
    guarded(load, scenario, uses, strict=strict)  # bad files fail here, before Prefect starts
    body = _run_flow(
        scenario=str(scenario),
        uses=[str(u) for u in uses],
        window=window,
        start=start,
        end=end,
        strict=strict,
        max_age=max_age,
        retention=retention,
        nats_url=nats,
    )
    if as_json:
        emit(to_json(body))
    else:
        _print_human(body)
    if not body["valid"]:
        raise typer.Exit(EXIT_INVALID)


async def _reach_nats(url: str | None) -> None:
    """Connect once and close: an unreachable server is one line before Prefect starts, not a failed flow run."""
    from karez.nats_options import resolve_address
    from tiro_prefect.tasks.nats_link import nats_connection

    async with nats_connection(resolve_address(url), name="tiro-validate-probe"):
        pass


def _run_flow(**parameters: Any) -> WindowReport:
    quiet_local_prefect()
    from tiro.retention import RetentionError

    try:
        asyncio.run(_reach_nats(parameters["nats_url"]))
        # Prefect loads only when the command runs
        from tiro_prefect.flows.validation import INVALID_MARK, validate_window, window_report

        logging.getLogger("prefect.flow_runs").addFilter(_NotTheInvalidVerdict(INVALID_MARK))

        async def validated() -> WindowReport:
            return await window_report(await validate_window(**parameters, return_state=True))

        return asyncio.run(validated())
    except (OSError, ValueError, RetentionError) as exc:
        if debug_enabled():
            raise
        raise fail(str(exc)) from None


def _print_human(body: WindowReport) -> None:
    window = window_label(body["start"], body["end"])
    head = f"Window {window}: {body['messages']} messages, {body['collection_size']} points"
    typer.echo(head)
    if body["empty"]:
        typer.secho("No data was retained in this window: every required point is missing.", fg=typer.colors.YELLOW)
    if body["valid"]:
        typer.secho("Validation succeeded!", fg=typer.colors.GREEN)
    else:
        typer.secho("Validation failed!", fg=typer.colors.RED)
        for error in body["errors"][:50]:
            typer.echo(f"  {error['path']}: {error['msg']} ({error['type']})")
        if len(body["errors"]) > 50:
            typer.echo(f"  … and {len(body['errors']) - 50} more")
    summary = ", ".join(f"{key} {value}" for key, value in body["counts"].items())
    typer.echo(f"{summary}; completeness {body['completeness']:.1%}")

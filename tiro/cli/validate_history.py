"""`tiro validate history`: the last windows' verdicts and completeness, kept by the validate-window flow.

Exit 0 when the latest window is valid (or none is kept yet), 1 when it is invalid, 2 for a bad or unreachable store.
"""

from __future__ import annotations

import typer

from tiro.cli.errors import EXIT_INVALID, fail, guarded
from tiro.cli.output import emit, to_json
from tiro.cli.query_cmd import _store_url
from tiro.stores.window_results import WindowResult, WindowResultStore, open_window_results
from tiro.window_report import completeness_bar, sparkline, verdict, window_label


def history_command(
    last: int = typer.Option(20, "--last", help="How many of the most recent windows to show."),
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default $TIRO_TELEMETRY_URL, else $TIRO_STORE, else sqlite:///tiro.db)."
    ),
    source: str = typer.Option("flow", "--source", help="Whose verdicts: flow, aggregator or all."),
    as_json: bool = typer.Option(False, "--json/--no-json", help="Print the windows as JSON."),
) -> None:
    """The last windows with verdict, completeness and counts, and a completeness sparkline (oldest to newest)."""
    if source not in ("flow", "aggregator", "all"):
        raise fail(f"--source must be flow, aggregator or all, not {source!r}")
    if last < 1:
        raise fail(f"--last must be at least 1, not {last}")
    url = _store_url(store, "telemetry")  # the validate-window flow keeps window results in the telemetry store
    results = guarded(_recent, url, last, None if source == "all" else source)
    if as_json:
        emit(to_json([r.to_dict() for r in results]))
    else:
        _print_history(results, url)
    if results and not results[-1].valid:
        raise typer.Exit(EXIT_INVALID)


def _recent(url: str, last: int, source: str | None) -> list[WindowResult]:
    store: WindowResultStore = open_window_results(url)
    try:
        return store.recent(last, source=source)
    finally:
        store.close()


def _print_history(results: list[WindowResult], url: str) -> None:
    if not results:
        typer.echo(f"no validation windows kept in {url}")
        return
    label_width = max(len(window_label(r.start, r.end)) for r in results)
    typer.echo(f"{'window':<{label_width}}  verdict  completeness        expected missing invalid errors")
    for r in results:
        bar = f"{completeness_bar(r.completeness)} {r.completeness:6.1%}"
        counts = f"{r.expected:>8} {r.missing:>7} {r.invalid:>7} {r.errors:>6}"
        typer.echo(f"{window_label(r.start, r.end):<{label_width}}  {verdict(r.valid):<7}  {bar}  {counts}")
    invalid = sum(not r.valid for r in results)
    spark = sparkline([r.completeness for r in results])
    typer.echo(
        f"completeness {spark}  {len(results)} window(s), {invalid} invalid, latest {verdict(results[-1].valid)}"
    )

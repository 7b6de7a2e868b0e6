"""Tasks: keep each window's result in the store, and draw completeness over the recent windows as an artifact."""

from __future__ import annotations

import sqlite3

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tiro.stores.base import StoreError
from tiro.stores.urls import redact_url
from tiro.stores.window_results import WindowResult, open_window_results
from tiro.window_report import (
    WindowReport,
    completeness_bar,
    completeness_svg,
    sparkline,
    svg_data_uri,
    verdict,
    window_label,
)

CHART_KEY = "validation-completeness"
CHART_WINDOWS = 48  # bars in the chart: 48 minutes of one-minute windows
TABLE_WINDOWS = 10  # the latest windows listed under it


@task(name="keep-window-result", cache_policy=NO_CACHE)  # the stores wait for locks and retry HTTP themselves
def keep_window_result(body: WindowReport, url: str) -> list[WindowResult]:
    """Write the window's result to the store of `url` and return the recent windows (oldest first)."""
    store = open_window_results(url)
    try:
        store.write(WindowResult.from_report(body))
        return store.recent(CHART_WINDOWS, source="flow")
    finally:
        store.close()


def history_or_nothing(body: WindowReport, url: str) -> list[WindowResult]:
    """`keep_window_result`, except that a store that cannot be written is a warning: the verdict still stands."""
    try:
        return keep_window_result(body, url)
    except (StoreError, OSError, ValueError, sqlite3.Error) as exc:
        get_run_logger().warning(f"window result not kept in {redact_url(url)}: {exc}")
        return []


def completeness_markdown(results: list[WindowResult]) -> str:
    """The chart (an SVG image) of the recent windows, a sparkline, and a table of the latest ones with bars."""
    latest = results[-1]
    lines = [
        f"## Completeness of the last {len(results)} window(s)",
        "",
        f"![completeness per window]({svg_data_uri(completeness_svg(results))})",
        "",
        f"`{sparkline([r.completeness for r in results])}` latest: **{verdict(latest.valid)}**"
        f" {latest.completeness:.1%}",
        "",
        "| window | verdict | completeness | missing | invalid |",
        "|---|---|---|---|---|",
    ]
    for r in reversed(results[-TABLE_WINDOWS:]):
        bar = f"`{completeness_bar(r.completeness)}` {r.completeness:.1%}"
        lines.append(f"| {window_label(r.start, r.end)} | {verdict(r.valid)} | {bar} | {r.missing} | {r.invalid} |")
    return "\n".join(lines)


@task(name="publish-completeness-chart", cache_policy=NO_CACHE)
def publish_completeness_chart(results: list[WindowResult]) -> None:
    """Update the `validation-completeness` markdown artifact (nothing to draw without kept results)."""
    if not results:
        return
    latest = results[-1]
    description = (
        f"{sparkline([r.completeness for r in results])} latest {verdict(latest.valid)} {latest.completeness:.1%}"
        f" · {window_label(latest.start, latest.end)}"
    )
    create_markdown_artifact(completeness_markdown(results), key=CHART_KEY, description=description)

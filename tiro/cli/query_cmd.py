"""`tiro query latest|history`: read stored data back from any store URL (sqlite by default)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from karez.cli_kit import plain_typer
from tiro.cli.errors import fail, guarded
from tiro.cli.output import emit, to_json
from tiro.settings import DEFAULT_STORE_URL, GRAPH_ENV, STORE_ENV, TELEMETRY_ENV, store_urls
from tiro.stores.base import AGGREGATIONS, Sample

app = plain_typer(no_args_is_help=True, help="Query stored data (latest values, history) from a store URL.")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_QPATH_SUFFIXES = (".yaml", ".yml", ".json")

_STORE_OPTION = typer.Option(
    None,
    "--store",
    help=f"Store URL (default: ${TELEMETRY_ENV} / ${GRAPH_ENV} for each store, else ${STORE_ENV}, "
    f"else {DEFAULT_STORE_URL}).",
)
_JSON_OPTION = typer.Option(False, "--json/--no-json", help="Print JSON.")


def parse_duration(text: str) -> float:
    """Seconds of a duration such as `90`, `90s`, `15m`, `1h`, `2d`, `1w`, `250ms`."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number with s, m, h, d or w (e.g. 15m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text: str, now: float) -> float:
    """Epoch seconds of `now`, a duration ago (`1h`), epoch seconds, or an ISO 8601 time (naive means UTC)."""
    text = text.strip()
    if text == "now":
        return now
    if _DURATION.match(text) and not text.replace(".", "", 1).isdigit():
        return now - parse_duration(text)
    try:
        return float(text) if float(text) > 1e8 else now - float(text)  # a bare small number is seconds ago
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid time {text!r}: use a duration ago (1h), epoch seconds or ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _store_url(store: str | None, which: str) -> str:
    """The URL of the `which` store ("telemetry" or "graph"): --store, else Tiro's store settings."""
    from tiro.stores.urls import parse_store_url

    url = getattr(store_urls(store, store), which)
    if url is None:
        raise fail(f"the {which} store is turned off (set to none): give --store")
    parsed = guarded(parse_store_url, url, store=which)
    if parsed.kind == "sqlite" and parsed.location is not None and not Path(parsed.location).is_file():
        raise fail(f"{parsed.location}: no such sqlite database (store {url})")
    return url


def _iso(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sample_dict(sample: Sample | None) -> dict[str, Any] | None:
    if sample is None:
        return None
    out: dict[str, Any] = {"value": sample.value, "timestamp": sample.timestamp}
    if sample.unit is not None:
        out["unit"] = sample.unit
    return out


def _print_samples(samples: dict[str, Sample]) -> None:
    if not samples:
        typer.echo("no data")
        return
    width = max(map(len, samples))
    for path, sample in samples.items():
        unit = f" {sample.unit}" if sample.unit else ""
        typer.echo(f"{path:<{width}}  {sample.value!r}{unit}  {_iso(sample.timestamp)}")


def _print_nested(node: Any, indent: int = 0) -> None:
    for key, value in node.items():
        if isinstance(value, dict) and "value" in value and "timestamp" in value:
            unit = f" {value['unit']}" if value.get("unit") else ""
            typer.echo(f"{'  ' * indent}{key}: {value['value']!r}{unit}  {_iso(value['timestamp'])}")
        else:
            typer.echo(f"{'  ' * indent}{key}")
            _print_nested(value, indent + 1)


@app.command("latest")
def latest(
    target: str = typer.Argument(..., help="A %-pattern over type paths (e.g. %%Rack%%), or a qpath YAML file."),
    store: str | None = _STORE_OPTION,
    max_age: float | None = typer.Option(None, "--max-age", help="Only telemetry newer than this many seconds."),
    source: str | None = typer.Option(
        None, "--source", help="telemetry or graph (default: graph for qpaths, else telemetry if the store has it)."
    ),
    as_json: bool = _JSON_OPTION,
) -> None:
    """The latest value of every data point whose type path matches PATTERN, or the snapshot a qpath file selects."""
    from tiro.stores.urls import BACKENDS, open_graph_store, open_telemetry_store, parse_store_url
    from tiro_models.qpath import load_qpath

    is_qpath = target.endswith(_QPATH_SUFFIXES) and Path(target).is_file()
    if target.endswith(_QPATH_SUFFIXES) and not is_qpath and "%" not in target:
        # read as a pattern it would match nothing and print "no data": a missing file must say so
        raise fail(f"{target}: no such qpath file (a pattern over type paths is written with %, e.g. %%Rack%%)")
    if source not in (None, "telemetry", "graph"):
        raise fail(f"--source must be telemetry or graph, not {source!r}")
    if is_qpath and source == "telemetry":
        raise fail("a qpath is answered by the graph store: drop --source telemetry")
    if source is None and not is_qpath:
        telemetry_url = store_urls(store, store).telemetry
        offers_telemetry = telemetry_url is not None and BACKENDS[guarded(parse_store_url, telemetry_url).kind][0]
        source = "telemetry" if offers_telemetry else "graph"
    url = _store_url(store, "graph" if is_qpath or source is None else source)
    if is_qpath:
        qpath = guarded(load_qpath, target)
        graph = guarded(open_graph_store, url)
        try:
            result = guarded(graph.query_qpath, qpath, max_age=max_age)
        finally:
            graph.close()
        if as_json:
            emit(to_json(result))
        elif result:
            _print_nested(result)
        else:
            typer.echo("no data")
        return
    if source == "telemetry":
        if max_age is not None:
            raise fail("--max-age applies to the graph store: add --source graph")
        telemetry = guarded(open_telemetry_store, url)
        try:
            samples = guarded(telemetry.latest, target)
        finally:
            telemetry.close()
    else:
        graph = guarded(open_graph_store, url)
        try:
            samples = guarded(graph.latest, target, max_age=max_age)
        finally:
            graph.close()
    if as_json:
        emit(to_json({path: _sample_dict(s) for path, s in samples.items()}))
    else:
        _print_samples(samples)


@app.command("history")
def history(
    pattern: str = typer.Argument(..., help="A %-pattern over type paths, e.g. %%Server%FlowRate."),
    since: str = typer.Option("1h", "--since", help="Start: a duration ago (1h), epoch seconds or ISO 8601."),
    until: str | None = typer.Option(None, "--until", help="End (exclusive), same forms; default now."),
    step: str | None = typer.Option(None, "--step", help="Bucket length (e.g. 1m); without it, raw samples."),
    agg: str = typer.Option("mean", "--agg", help=f"Aggregation per bucket: {', '.join(AGGREGATIONS)}."),
    store: str | None = _STORE_OPTION,
    as_json: bool = _JSON_OPTION,
) -> None:
    """Samples of every data point whose type path matches PATTERN, optionally aggregated per time bucket."""
    from tiro.stores.urls import open_telemetry_store

    if agg not in AGGREGATIONS:
        raise fail(f"--agg must be one of {', '.join(AGGREGATIONS)}, not {agg!r}")
    now = time.time()
    start = guarded(parse_time, since, now)
    end = guarded(parse_time, until, now) if until is not None else None
    step_seconds = guarded(parse_duration, step) if step is not None else None
    if step_seconds is not None and step_seconds <= 0:
        raise fail("--step must be positive")
    url = _store_url(store, "telemetry")
    telemetry = guarded(open_telemetry_store, url)
    try:
        series = guarded(telemetry.history, pattern, since=start, until=end, step=step_seconds, agg=agg)
    finally:
        telemetry.close()
    if as_json:
        emit(to_json({path: [[ts, value] for ts, value in points] for path, points in series.items()}))
        return
    if not series:
        typer.echo("no data")
    for path, points in series.items():
        typer.echo(path)
        for ts, value in points:
            typer.echo(f"  {_iso(ts)}  {value!r}")

"""`tiro mock serve|push`: the mock data server, and forwarding its points to a receiver."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from pathlib import Path

import typer

from karez.cli_kit import plain_typer
from tiro.cli.errors import fail, guarded
from tiro.cli.loading import show_warnings

app = plain_typer(no_args_is_help=True, help="Serve mock data generated from the model.")


@app.command("serve")
def serve(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    uses: list[Path] = typer.Argument(..., help="One or more uses YAML files."),
    reference: Path | None = typer.Option(None, "-r", "--reference", help="Reference YAML (ids, ranges, uuids)."),
    host: str = typer.Option("127.0.0.1", "-h", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8000, "-p", "--port"),
    seed: int | None = typer.Option(None, "--seed", help="Seed for reproducible ids and values."),
    skip_defaults: bool = typer.Option(
        True, "--skip-defaults/--no-skip-defaults", help="Omit points with defaults from /points/."
    ),
    use_defaults: bool = typer.Option(
        True, "--use-defaults/--no-use-defaults", help="Serve defaults, not mock values."
    ),
    faulty: float = typer.Option(0.0, "--faulty", help="Share (0-1) of points served bad."),
    per_parent: bool = typer.Option(False, "--per-parent/--global-ids", help="Number asset ids per parent."),
) -> None:
    """Serve mock data over HTTP (Tiro 0.13 routes plus /points/batch and /points/?values=true)."""
    import uvicorn

    from tiro.mock.app import create_asgi
    from tiro.mock.service import build_service

    warnings: list[str] = []
    service = guarded(
        build_service,
        scenario,
        uses,
        reference=reference,
        seed=seed,
        skip_defaults=skip_defaults,
        use_defaults=use_defaults,
        faulty=faulty,
        per_parent=per_parent,
        warnings=warnings,
    )
    show_warnings(warnings)
    listening = _listen(host, port)  # bound before "Serving": a port in use is one line and exit 2, not uvicorn's
    typer.echo(f"Serving {len(service.listed)} data points on http://{host}:{port} (docs at /docs)", err=True)
    config = uvicorn.Config(create_asgi(service), host=host, port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port; a one-line error (exit 2) naming the address when it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as e:
        why = os.strerror(e.errno) if e.errno else str(e)
        if e.errno == errno.EADDRINUSE:
            why += " (another mock server? stop it, or serve on another port with -p)"
        raise fail(f"cannot listen on {host}:{port}: {why}") from None


@app.command("push")
def push(
    data_addr: str = typer.Option("127.0.0.1:8000", "-d", "--data-addr", help="host:port of the data (mock) server."),
    recv_addr: str = typer.Option("127.0.0.1:8001", "-r", "--recv-addr", help="host:port of the receiver."),
    data_ssl: bool = typer.Option(False, "--data-ssl/--no-data-ssl", help="Use https for the data server."),
    recv_ssl: bool = typer.Option(False, "--recv-ssl/--no-recv-ssl", help="Use https for the receiver."),
    collect_interval: float = typer.Option(60, "--collect-interval", help="Seconds between rounds."),
    rounds: int | None = typer.Option(None, "--rounds", help="Stop after this many rounds (default: run forever)."),
    retries: int = typer.Option(3, "--retries", help="Attempts per request before a point is skipped."),
) -> None:
    """GET every point from the data server and POST it to the receiver at /points/{path}, every interval."""
    from tiro.mock.push import push_rounds

    data_url = f"{'https' if data_ssl else 'http'}://{data_addr}"
    recv_url = f"{'https' if recv_ssl else 'http'}://{recv_addr}"
    stats = asyncio.run(push_rounds(data_url, recv_url, interval=collect_interval, rounds=rounds, retries=retries))
    if stats.rounds and stats.unlisted == stats.rounds:
        raise fail(f"cannot reach the data server at {data_url}: no round could list its points")
    typer.echo(f"{stats.rounds} rounds, {stats.forwarded} points forwarded, {stats.failed} failed")
    if stats.failed or stats.unlisted:
        raise typer.Exit(1)

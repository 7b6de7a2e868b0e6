"""`tiro validate window` in-process: exit codes 0 / 1 / 2 and the JSON report."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from tiro_prefect.cli.app import app

runner = CliRunner()


def _window(datahall, *extra: str):
    scenario, uses = datahall
    args = ["validate", "window", "--scenario", scenario, *(a for u in uses for a in ("--uses", u)), *extra]
    return runner.invoke(app, args)


def test_empty_window_exits_1_with_every_point_missing(nats_server, datahall):
    result = _window(datahall, "--window", "5", "--nats", nats_server.url, "--json")
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["empty"] is True and body["counts"]["missing"] == body["counts"]["expected"]


def test_filled_window_exits_0(nats_server, datahall, publish_snapshot):
    assert _window(datahall, "--window", "5", "--nats", nats_server.url).exit_code == 1  # creates the stream
    asyncio.run(publish_snapshot(nats_server.url))
    result = _window(datahall, "--window", "30", "--nats", nats_server.url)
    assert result.exit_code == 0, result.output
    assert "Validation succeeded!" in result.stdout and "completeness 100.0%" in result.stdout


def test_bad_input_exits_2(nats_server, datahall, tmp_path):
    broken = tmp_path / "scenario.yaml"
    broken.write_text("DataHall: [unclosed\n")
    result = runner.invoke(
        app, ["validate", "window", "--scenario", str(broken), "--uses", datahall[1][0], "--nats", nats_server.url]
    )
    assert result.exit_code == 2 and "scenario.yaml" in result.stderr
    result = _window(datahall, "--nats", "nats://127.0.0.1:9")
    assert result.exit_code == 2 and "cannot connect to NATS at nats://127.0.0.1:9" in result.stderr


def test_an_invalid_window_prints_the_verdict_and_no_prefect_error_line(nats_server, datahall, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    scenario, uses = datahall
    tiro = Path(sys.executable).with_name("tiro")
    args = [str(tiro), "validate", "window", "--scenario", scenario, *(a for u in uses for a in ("--uses", u))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {"PREFECT_HOME": str(tmp_path)}
    result = subprocess.run(
        [*args, "--window", "5", "--nats", nats_server.url], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 1 and "Validation failed!" in result.stdout
    assert result.stderr == "", result.stderr  # the run's Failed end is the verdict already printed, not an error

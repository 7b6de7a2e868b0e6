"""The seed walkthrough (docs "Karez Integration") end to end, without Docker: mock server, karez test, deploy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.mock.service import example_service

KAREZ = [str(Path(sys.executable).with_name("karez"))]  # the console script of this environment


def _karez(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*KAREZ, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def mock_url():
    with BackgroundServer(create_asgi(example_service(seed=21))) as server:
        yield server.url


def test_karez_test_prints_seed_shaped_items(walkthrough, tmp_path, mock_url):
    folder = walkthrough(tmp_path, mock_url)
    result = _karez(
        folder, "test", "-c", "config/karez.yaml", "-p", "karez/", "-d", "tiro_mock", "-n", "tiro_mock", "--json"
    )
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    item = items[0] if isinstance(items, list) else items
    assert item["path"] == "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower"
    assert set(item["result"]) >= {"value", "timestamp"}
    assert item["_karez"]["category"] == "telemetry"

    result = _karez(
        folder,
        "test",
        "-c",
        "config/karez.yaml",
        "-p",
        "karez/",
        "-d",
        "tiro_mock",
        "-n",
        "tiro_mock",
        "-v",
        "tiro_preprocess",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    record = records[0] if isinstance(records, list) else records
    assert record["path"] == "DataHall.CRAC.ActivePower"
    assert record["asset_path"] == "DataHall.data_hall_0.CRAC.crac_0"
    assert record["DataHall"] == "data_hall_0" and record["CRAC"] == "crac_0"
    assert record["type"] == "Telemetry" and record["field"] == "ActivePower"
    assert isinstance(record["timestamp"], float) and abs(record["timestamp"] - time.time()) < 120


def _deploy_until(folder: Path, nats_url: str, windows: int, timeout: float = 40) -> tuple[list[dict], str]:
    """Run `karez deploy` until validation.log has `windows` complete (non-partial) windows, then SIGTERM it."""
    log = folder / "validation.log"
    proc = subprocess.Popen(
        [*KAREZ, "deploy", "-c", "config/karez.yaml", "-p", "karez/", "-a", nats_url],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    lines: list[dict] = []
    try:
        while time.monotonic() < deadline:
            if log.exists():
                lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
                if sum(1 for w in lines if not w["partial"]) >= windows:
                    break
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    return lines, output


def test_deploy_validates_windows_and_writes_log(walkthrough, tmp_path, mock_url, nats_server):
    folder = walkthrough(tmp_path, mock_url)
    config = folder / "config" / "karez.yaml"
    config.write_text(config.read_text().replace("interval: 10", "interval: 1"))
    windows, output = _deploy_until(folder, nats_server.url, windows=2)
    assert "[KAREZ] Launched 3 Converters." in output
    assert "[KAREZ] Launched 1 Connectors." in output
    assert "[KAREZ] Launched 1 Dispatchers." in output
    assert "[KAREZ] Launched 1 Aggregators." in output
    fused = "tiro_mock → update_category_for_validator, tiro_preprocess; tiro_preprocess → influx_line_protocol."
    assert f"[KAREZ] Fused in memory (--no-fuse: over NATS): {fused}" in output
    complete = [w for w in windows if not w["partial"]]
    assert len(complete) >= 2, output
    for window in complete:
        assert window["valid"] is True, window
        assert window["exception"] is None
        assert window["collection_size"] > 0
        start, end = (w.replace("Z", "+00:00") for w in (window["start"], window["end"]))
        from datetime import datetime

        assert (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() == 2
    summaries = [line for line in output.splitlines() if line.startswith("[tiro_validate] window ")]
    assert any(": valid, completeness 100.0%" in line for line in summaries), output
    assert '"valid"' not in output  # one line per window on the console; the JSON goes to validation.log


def test_seed_validator_step_with_converters_spelling(
    walkthrough, tmp_path, mock_url, nats_server, mock_collector_yaml
):
    """The walkthrough's validator step writes the connector key as `converters:` (plural): it must work."""
    folder = walkthrough(tmp_path, mock_url)
    tail = """converters:
  - name: update_category_for_validator
    type: filter_and_update_meta
    key: category
    rename:
      telemetry: validation_data
      attribute: validation_data

aggregators:
  - type: tiro_validate
    category: validation_data
    scenario: scenario/scenario.yaml
    uses: "scenario/use-srv1.yaml,scenario/use-srv2.yaml"
    retention: 2
    log_file: validation.log
"""
    (folder / "config" / "karez.yaml").write_text(
        mock_collector_yaml(mock_url, ["update_category_for_validator"], key="converters") + tail
    )
    windows, output = _deploy_until(folder, nats_server.url, windows=1)
    complete = [w for w in windows if not w["partial"]]
    assert complete and all(w["valid"] for w in complete), output


def test_faulty_mock_windows_are_invalid_and_name_paths(walkthrough, tmp_path, nats_server):
    with BackgroundServer(create_asgi(example_service(seed=5, faulty=0.3))) as server:
        folder = walkthrough(tmp_path, server.url)
        config = folder / "config" / "karez.yaml"
        config.write_text(config.read_text().replace("interval: 10", "interval: 1"))
        windows, output = _deploy_until(folder, nats_server.url, windows=1)
    complete = [w for w in windows if not w["partial"]]
    assert complete, output
    window = complete[0]
    assert window["valid"] is False
    paths = [e["path"] for e in window["errors"]]
    assert paths and all(p.startswith("DataHall.data_hall_0.") for p in paths)


def test_shipped_example_folder_runs_as_the_readme_says(tmp_path, mock_url, nats_server):
    """scenarios/datahall as shipped (config beside the scenario files), run from its own folder."""
    from tiro.examples import example_dir

    folder = tmp_path / "datahall"
    shutil.copytree(example_dir("datahall"), folder, ignore=shutil.ignore_patterns("validation.log", "__pycache__"))
    config = folder / "config" / "karez.yaml"
    text = config.read_text().replace("http://localhost:8000", mock_url)
    config.write_text(text.replace("interval: 10", "interval: 1").replace("retention: 10", "retention: 2"))
    windows, output = _deploy_until(folder, nats_server.url, windows=1)
    complete = [w for w in windows if not w["partial"]]
    assert complete and all(w["valid"] for w in complete), output

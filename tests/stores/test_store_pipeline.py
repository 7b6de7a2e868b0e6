"""End to end: the seed pipeline (mock server → karez dispatcher/connector → tiro_preprocess) into a `tiro_store`
aggregator on sqlite, run by `karez deploy` against a real nats-server: every point the mock serves is stored."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiro.examples import example_dir
from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.mock.service import example_service
from tiro.stores.urls import open_graph_store, open_telemetry_store

KAREZ = str(Path(sys.executable).with_name("karez"))
ROUNDS = 2

CONFIG_TAIL = """\
converters:
  - type: tiro_preprocess
    next:
      - to_store
  - name: to_store
    type: filter_and_update_meta
    key: category
    rename:
      telemetry: graph_data
      attribute: graph_data

aggregators:
  - type: tiro_store
    category: graph_data
    store: sqlite:///tiro.db
    scenario: scenario/scenario.yaml
    uses: "scenario/use-srv1.yaml, scenario/use-srv2.yaml"
    flush_interval: 0.2
"""


def _with_frames(config: str) -> str:
    """The configuration with frames from the connector through tiro_preprocess and the store's rename."""
    config = config.replace(
        "connectors:\n  - type: tiro_mock\n", "connectors:\n  - type: tiro_mock\n    frames: true\n"
    )
    config = config.replace("  - type: tiro_preprocess\n", "  - type: tiro_preprocess\n    frames: true\n")
    return config.replace("  - name: to_store\n", "  - name: to_store\n    frames: true\n")


def _lay_out(folder: Path, mock_url: str, collector_yaml, frames: bool = False) -> None:
    source = example_dir("datahall")
    (folder / "scenario").mkdir()
    for name in ("scenario.yaml", "use-srv1.yaml", "use-srv2.yaml", "test_assets.py"):
        shutil.copy(source / name, folder / "scenario" / name)
    shutil.copytree(source / "karez", folder / "karez")
    (folder / "karez" / "aggregator" / "tiro_store.py").write_text(
        "from tiro.plugins.karez import TiroStoreAggregator as Aggregator\n"
    )
    (folder / "config").mkdir()
    config = collector_yaml(mock_url, ["tiro_preprocess"]) + CONFIG_TAIL
    (folder / "config" / "karez.yaml").write_text(_with_frames(config) if frames else config)


def _stored(db: Path) -> tuple[dict, dict]:
    if not db.exists():
        return {}, {}
    url = f"sqlite:///{db}"
    telemetry, graph = open_telemetry_store(url), open_graph_store(url)
    try:
        return telemetry.history("%%", since=0), graph.latest()
    finally:
        telemetry.close()
        graph.close()


@pytest.mark.parametrize("frames", [False, True], ids=["items", "frames"])
def test_every_point_the_mock_serves_is_stored_with_a_plausible_value_and_unit(
    tmp_path, nats_server, mock_collector_yaml, frames
):
    service = example_service(seed=21)
    served = service.listed
    assert len(served) > 10
    started = time.time()
    with BackgroundServer(create_asgi(service)) as mock:
        _lay_out(tmp_path, mock.url, mock_collector_yaml, frames)
        if frames:
            assert (tmp_path / "config" / "karez.yaml").read_text().count("frames: true") == 3
        proc = subprocess.Popen(
            [KAREZ, "deploy", "-c", "config/karez.yaml", "-p", "karez/", "-a", nats_server.url],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60  # only stops a hung pipeline; the loop ends when the data is there
        history: dict = {}
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                history, _ = _stored(tmp_path / "tiro.db")
                if all(len(history.get(path, ())) >= ROUNDS for path in served):
                    break
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    history, latest = _stored(tmp_path / "tiro.db")
    missing = [p for p in served if len(history.get(p, ())) < ROUNDS]
    assert not missing, f"{len(missing)} of {len(served)} points not stored {ROUNDS} times: {missing[:5]}\n{output}"
    assert set(latest) == set(history) == set(served)  # nothing else stored either
    for path in served:
        spec = service.points[path].definition
        sample = latest[path]
        assert sample.unit == spec.unit, path
        assert isinstance(sample.value, float), path
        low = spec.ge if spec.ge is not None else float("-inf")
        high = spec.le if spec.le is not None else float("inf")
        assert low <= sample.value <= high, (path, sample.value)
        assert started - 5 <= sample.timestamp <= time.time() + 5, path
        timestamps = [ts for ts, _ in history[path]]
        assert timestamps == sorted(set(timestamps))  # distinct samples per round, no duplicates
        assert history[path][-1] == (pytest.approx(sample.timestamp), sample.value)  # graph = newest telemetry

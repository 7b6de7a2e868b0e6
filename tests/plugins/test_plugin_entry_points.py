"""Installing `tiro` makes its Karez plugins known to `karez` by entry point: no plugin directory needed, stubs win."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from karez.config_check import validate_config
from karez.plugins import all_plugins, discover_all
from karez.settings import load_settings
from tiro.examples import example_dir
from tiro.plugins.karez import (
    ArangoAggregator,
    ConnectorForMockServer,
    DispatcherForMockServer,
    InfluxWriterAggregator,
    TiroFilterByReferenceConverter,
    TiroPreprocessConverter,
    TiroStoreAggregator,
    TiroUpdateInfoForValueConverter,
    ValidationAggregator,
)

DATA = Path(__file__).resolve().parents[1] / "data"
# The type names the README and the seed walkthrough use, and the two converters' names (upstream's example name for
# the update-info one).
TIRO_TYPES = {
    "dispatcher": {"tiro_mock": DispatcherForMockServer},
    "connector": {"tiro_mock": ConnectorForMockServer},
    "converter": {
        "tiro_preprocess": TiroPreprocessConverter,
        "tiro_update_info_for_value": TiroUpdateInfoForValueConverter,
        "tiro_filter_by_reference": TiroFilterByReferenceConverter,
    },
    "aggregator": {
        "tiro_validate": ValidationAggregator,
        "tiro_store": TiroStoreAggregator,
        "influx_writer": InfluxWriterAggregator,
        "arango_db": ArangoAggregator,
    },
}
EVERY_TYPE_CONFIG = {
    "dispatchers": [{"type": "tiro_mock", "connector": "tiro_mock", "interval": 10}],
    "connectors": [{"type": "tiro_mock", "base_url": "http://localhost:8000",
                    "converter": ["tiro_preprocess", "tiro_update_info_for_value", "tiro_filter_by_reference"]}],
    "converters": [
        {"type": "tiro_preprocess"},
        {"type": "tiro_update_info_for_value", "reference": "r.yaml", "scenario": "s.yaml", "uses": "u.yaml"},
        {"type": "tiro_filter_by_reference", "reference": "r.yaml", "uuid_field": "uuid"},
    ],
    "aggregators": [
        {"type": "tiro_validate", "category": "validation_data", "scenario": "s.yaml", "uses": "u.yaml"},
        {"type": "tiro_store", "category": "store_data", "store": "sqlite:///t.db", "scenario": "s.yaml",
         "uses": "u.yaml"},
        {"type": "influx_writer"},
        {"type": "arango_db", "category": "graph_data", "scenario": "s.yaml", "uses": "u.yaml", "db_name": "tiro",
         "graph_name": "scenario"},
    ],
}  # fmt: skip


def config_file(tmp_path: Path, config: dict) -> str:
    path = tmp_path / "karez.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize("plugin_dir", [None, "missing", "empty"])
def test_every_tiro_type_resolves_without_a_plugin_directory(tmp_path, plugin_dir):
    folder = {None: None, "missing": tmp_path / "no-such-folder", "empty": tmp_path / "empty"}[plugin_dir]
    if plugin_dir == "empty":
        folder.mkdir()
    table = discover_all(folder)
    for kind, types in TIRO_TYPES.items():
        for name, cls in types.items():
            assert table[kind][name].cls is cls, (kind, name)
            assert table[kind][name].origin.startswith("entry point tiro "), table[kind][name].origin
    report = validate_config(load_settings([config_file(tmp_path, EVERY_TYPE_CONFIG)], environ={}), all_plugins(folder))
    assert report.errors == []


def test_upstream_example_config_validates_without_a_plugin_directory():
    settings = load_settings([str(DATA / "upstream-example" / "karez-karez.yaml")], environ={})
    assert validate_config(settings, all_plugins(None)).errors == []


def test_a_stub_in_the_plugin_directory_wins_over_the_entry_point(tmp_path):
    folder = tmp_path / "plugins" / "aggregator"
    folder.mkdir(parents=True)
    (folder / "tiro_store.py").write_text(
        "from tiro.plugins.karez import TiroStoreAggregator\nclass Aggregator(TiroStoreAggregator):\n    SITE = 'own'\n"
    )
    found = discover_all(tmp_path / "plugins")["aggregator"]["tiro_store"]
    assert found.cls is not TiroStoreAggregator and found.cls.SITE == "own"
    assert found.origin == f"file {folder / 'tiro_store.py'}"
    assert found.hides == (f"entry point tiro {version('tiro')} (tiro.plugins.karez:TiroStoreAggregator)",)


def test_the_shipped_example_stubs_still_load_and_name_the_same_classes():
    stubs = example_dir("datahall") / "karez"
    table = discover_all(stubs)
    for kind, name in [("dispatcher", "tiro_mock"), ("connector", "tiro_mock"), ("converter", "tiro_preprocess"),
                       ("aggregator", "tiro_validate")]:  # fmt: skip
        found = table[kind][name]
        assert found.origin == f"file {stubs / kind / name}.py"
        assert found.cls is TIRO_TYPES[kind][name]
        assert found.hides[0].startswith("entry point tiro ")


def karez(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(
        [sys.executable, "-m", "karez.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_karez_test_runs_tiro_preprocess_with_no_plugin_directory(tmp_path):
    config = config_file(tmp_path, {"converters": [{"type": "tiro_preprocess"}]})
    item = {"path": "DataHall.data_hall_0.Telemetry.Temperature", "_karez": {"category": "telemetry"},
            "result": {"value": 21.5, "timestamp": 1704067200.0}}  # fmt: skip
    (tmp_path / "in.json").write_text(json.dumps(item))
    result = karez("test", "-c", config, "-v", "tiro_preprocess", "-i", "in.json", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)
    assert record["asset_path"] == "DataHall.data_hall_0" and record["value"] == 21.5


def test_karez_plugins_shows_where_each_tiro_type_comes_from(tmp_path):
    stubs = example_dir("datahall") / "karez"
    result = karez("plugins", "-p", str(stubs), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split(":", 1)[0].strip(): line for line in result.stdout.splitlines() if line.startswith("   ")}
    assert lines["tiro_store"].endswith("(tiro.plugins.karez:TiroStoreAggregator)]")
    assert "[entry point tiro " in lines["tiro_store"]
    assert f"[file {stubs / 'aggregator' / 'tiro_validate.py'}; hides entry point tiro " in lines["tiro_validate"]
    assert lines["echo"].endswith("[built-in]")

"""The `karez` CLI offline commands: test (follows next links, meta merge), collect, plugins, plugin-doc."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from karez.cli import app

PLUGINS = str(Path(__file__).parent / "plugins")
runner = CliRunner()

CONFIG = {
    "dispatchers": [{"type": "numbers", "connector": "src", "interval": 10, "batch_size": 2, "count": 3}],
    "connectors": [{"type": "numbers", "name": "src", "converter": ["tag", None]}],
    "converters": [
        {"type": "filter_and_update_meta", "name": "tag", "key": "category", "rename": {"telemetry": "graph"},
         "next": "lp"},
        {"type": "influx_line_protocol", "name": "lp", "measurement": "m"},
    ],
    "aggregators": [{"type": "collect", "category": "graph", "db_name": "x"}],
}  # fmt: skip


def write(tmp_path: Path, config: dict = CONFIG) -> str:
    path = tmp_path / "karez.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_test_command_follows_links_and_merges_meta(tmp_path):
    args = ["test", "-c", write(tmp_path), "-p", PLUGINS, "-d", "numbers", "-n", "src", "--follow", "--subjects"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    finals = json.loads(result.stdout)
    subjects = sorted({f["subject"] for f in finals})
    assert subjects == ["karez.graph.lp", "karez.telemetry.src"]
    lines = sorted(f["payload"]["_as_is"] for f in finals if f["subject"] == "karez.graph.lp")
    assert lines == ["m,n=0 value=0 1700000000000000000", "m,n=1 value=1.5 1700000001000000000",
                     "m,n=2 value=3 1700000002000000000"]  # fmt: skip
    assert all(f["payload"]["_karez"] == {"category": "graph"} for f in finals if f["subject"] == "karez.graph.lp")


def test_test_command_no_follow_and_verbose_hops(tmp_path):
    args = ["test", "-c", write(tmp_path), "-p", PLUGINS, "-d", "numbers", "-n", "src", "--verbose", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [i["n"] for i in json.loads(result.stdout)] == [0, 0, 1, 1, 2, 2]  # fan-out: converter + aggregator
    assert "After DISPATCHER numbers (2 items)" in result.output
    assert "After CONNECTOR src (6 items)" in result.output
    assert "karez.converter.tag" in result.output


def test_test_command_with_input_file_and_converter(tmp_path):
    payload = tmp_path / "in.json"
    payload.write_text(json.dumps({"value": 2, "timestamp": 3, "_karez": {"category": "telemetry"}}))
    args = ["test", "-c", write(tmp_path), "-p", PLUGINS, "-v", "tag", "-i", str(payload), "--follow"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "m value=2i 3000000000" in result.output


def test_collect_runs_dispatcher_and_connector(tmp_path):
    result = runner.invoke(app, ["collect", "-c", write(tmp_path), "-p", PLUGINS, "--json"])
    assert result.exit_code == 0, result.output
    assert [i["n"] for i in json.loads(result.stdout)] == [0, 1, 2]


def test_plugins_and_plugin_doc(tmp_path):
    result = runner.invoke(app, ["plugins", "-p", PLUGINS])
    assert result.exit_code == 0
    assert "[Converter]" in result.output and "influx_line_protocol" in result.output and "slow" in result.output
    doc = runner.invoke(app, ["plugin-doc", "aggregator", "collect", "-p", PLUGINS])  # instance-method entities
    assert doc.exit_code == 0, doc.output
    assert " - db_name: Database." in doc.output and " - category: Category of data to aggregate." in doc.output
    missing = runner.invoke(app, ["plugin-doc", "converter", "nope", "-p", PLUGINS])
    assert missing.exit_code == 2 and "Cannot find Converter called nope (known: " in missing.output
    assert "influx_line_protocol" in missing.output  # the names that exist


def test_bad_yaml_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("converters: [\n")
    result = runner.invoke(app, ["test", "-c", str(bad), "-v", "x"])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "invalid YAML" in result.output

"""Plugin discovery from directories and entry points: what wins, and where each type comes from."""

from __future__ import annotations

import ast
import logging
import sys
from pathlib import Path

from typer.testing import CliRunner

from karez.cli import app
from karez.connector.base import PullConnectorBase
from karez.converter.extras.echo import Converter as BuiltinEcho
from karez.dispatcher.base import DispatcherBase
from karez.plugins import discover_plugins, search_plugins

PLUGINS = Path(__file__).parent / "plugins"
KAREZ_PACKAGE = Path(__file__).resolve().parents[2] / "karez"

PLUGIN_MODULE = """
from karez.aggregator.base import AggregatorBase
from karez.converter.base import ConverterBase

class Sink(AggregatorBase):
    '''from an entry point'''
    def process(self, p):
        pass

class Echo(ConverterBase):
    '''an entry point named like a built-in'''
"""


def install_distribution(tmp_path: Path, monkeypatch, entry_points: str, name: str = "ep-plugin") -> None:
    """A distribution `name` 1.0 with `entry_points.txt` and the module `ep_plugin_mod`, importable from tmp_path."""
    (tmp_path / "ep_plugin_mod.py").write_text(PLUGIN_MODULE)
    dist = tmp_path / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_same_stem_in_two_kinds_loads_two_modules():
    dispatcher = search_plugins(PLUGINS, "dispatcher")["numbers"]
    connector = search_plugins(PLUGINS, "connector")["numbers"]
    assert issubclass(dispatcher, DispatcherBase) and issubclass(connector, PullConnectorBase)
    assert sys.modules["karez_plugins.dispatcher.numbers"].KIND == "dispatcher"
    assert dispatcher.__module__ != connector.__module__


def test_file_plugin_overrides_builtin(tmp_path):
    (tmp_path / "converter").mkdir()
    (tmp_path / "converter" / "echo.py").write_text(
        "from karez.converter.base import ConverterBase\nclass Converter(ConverterBase):\n    '''mine'''\n"
    )
    assert search_plugins(tmp_path, "converter")["echo"].role_description() == "mine"
    assert search_plugins(None, "converter")["echo"].role_description() == "Yields every item unchanged."


def test_entry_point_plugins(tmp_path, monkeypatch):
    install_distribution(tmp_path, monkeypatch, "[karez.aggregator]\nsink = ep_plugin_mod:Sink\n")
    table = search_plugins(None, "aggregator")
    assert table["sink"].role_description() == "from an entry point"
    found = discover_plugins(tmp_path / "no-such-folder", "aggregator")["sink"]
    assert found.origin == "entry point ep-plugin 1.0 (ep_plugin_mod:Sink)" and found.hides == ()


def test_plugin_file_wins_over_an_entry_point_of_the_same_name(tmp_path, monkeypatch):
    install_distribution(tmp_path, monkeypatch, "[karez.aggregator]\nsink = ep_plugin_mod:Sink\n")
    folder = tmp_path / "plugins" / "aggregator"
    folder.mkdir(parents=True)
    (folder / "sink.py").write_text(
        "from karez.aggregator.base import AggregatorBase\nclass Aggregator(AggregatorBase):\n    '''the stub'''\n"
    )
    found = discover_plugins(tmp_path / "plugins", "aggregator")["sink"]
    assert found.cls.role_description() == "the stub"
    assert found.origin == f"file {folder / 'sink.py'}"
    assert found.hides == ("entry point ep-plugin 1.0 (ep_plugin_mod:Sink)",)


def test_builtin_wins_over_an_entry_point_of_the_same_name(tmp_path, monkeypatch):
    # installing a package must not change what `type: echo` means in an existing config
    install_distribution(tmp_path, monkeypatch, "[karez.converter]\necho = ep_plugin_mod:Echo\n")
    found = discover_plugins(None, "converter")["echo"]
    assert found.cls is BuiltinEcho and found.origin == "built-in"
    assert found.hides == ("entry point ep-plugin 1.0 (ep_plugin_mod:Echo)",)


def test_broken_entry_point_is_one_log_line_and_the_others_still_load(tmp_path, monkeypatch, caplog):
    install_distribution(
        tmp_path, monkeypatch, "[karez.aggregator]\nsink = ep_plugin_mod:Sink\nbroken = ep_plugin_mod:Missing\n"
    )
    with caplog.at_level(logging.ERROR, logger="karez"):
        table = search_plugins(None, "aggregator")
    assert "sink" in table and "broken" not in table
    (message,) = [r.getMessage() for r in caplog.records if "broken" in r.getMessage()]
    assert "\n" not in message and "entry point ep-plugin 1.0 (ep_plugin_mod:Missing)" in message


def test_plugins_command_names_the_origin_of_each_type_on_one_line(tmp_path, monkeypatch):
    install_distribution(tmp_path, monkeypatch, "[karez.aggregator]\nsink = ep_plugin_mod:Sink\n")
    folder = tmp_path / "plugins"
    (folder / "converter").mkdir(parents=True)
    (folder / "converter" / "shout.py").write_text(
        "from karez.converter.base import ConverterBase\nclass Converter(ConverterBase):\n    '''Shouts.'''\n"
    )
    result = CliRunner().invoke(app, ["plugins", "-p", str(folder)], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "   echo: Yields every item unchanged. [built-in]" in lines
    assert "   sink: from an entry point [entry point ep-plugin 1.0 (ep_plugin_mod:Sink)]" in lines
    assert f"   shout: Shouts. [file {folder / 'converter' / 'shout.py'}]" in lines


def test_karez_imports_nothing_of_tiro():
    """karez reads entry points generically: no module of the runtime imports the application that joins it."""
    forbidden = ("tiro", "tiro_models", "tasks", "flows")
    offenders = []
    for path in sorted(KAREZ_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path}:{node.lineno}: {n}" for n in names if n.split(".")[0] in forbidden]
    assert offenders == []

"""Plugin discovery from directories and entry points."""

from __future__ import annotations

import sys
from pathlib import Path

from karez.connector.base import PullConnectorBase
from karez.dispatcher.base import DispatcherBase
from karez.plugins import search_plugins

PLUGINS = Path(__file__).parent / "plugins"


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
    (tmp_path / "ep_plugin_mod.py").write_text(
        "from karez.aggregator.base import AggregatorBase\n"
        "class Sink(AggregatorBase):\n    '''from an entry point'''\n    def process(self, p):\n        pass\n"
    )
    dist = tmp_path / "ep_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[karez.aggregator]\nsink = ep_plugin_mod:Sink\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    table = search_plugins(None, "aggregator")
    assert table["sink"].role_description() == "from an entry point"

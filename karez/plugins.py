"""Plugin discovery: built-ins, `<dir>/<kind>/<type>.py` files and `karez.<kind>` entry points."""

from __future__ import annotations

import importlib.util
import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path

from karez.aggregator.extras import PLUGINS as AGGREGATORS
from karez.connector.extras import PLUGINS as CONNECTORS
from karez.converter.extras import PLUGINS as CONVERTERS
from karez.dispatcher.extras import PLUGINS as DISPATCHERS

logger = logging.getLogger("karez")

KINDS = ("dispatcher", "connector", "converter", "aggregator")

BUILTIN_PLUGINS: dict[str, dict[str, type]] = {
    "dispatcher": DISPATCHERS,
    "connector": CONNECTORS,
    "converter": CONVERTERS,
    "aggregator": AGGREGATORS,
}


class PluginError(Exception):
    """A plugin file could not be loaded."""


def load_plugin_file(path: Path, kind: str) -> type | None:
    """Import one plugin file as `karez_plugins.<kind>.<stem>` and return its `<Kind>` class (or None)."""
    module_name = f"karez_plugins.{kind}.{path.stem}"
    target = path / "__init__.py" if path.is_dir() else path
    spec = importlib.util.spec_from_file_location(
        module_name, target, submodule_search_locations=[str(path)] if path.is_dir() else None
    )
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(module_name, None)
        raise PluginError(f"{path}: import failed: {type(e).__name__}: {e}") from e
    return getattr(module, kind.capitalize(), None)


def _plugin_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    found = []
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith(("_", ".")):
            continue
        if (entry.suffix == ".py" and entry.is_file()) or (entry / "__init__.py").is_file():
            found.append(entry)
    return found


def entry_point_plugins(kind: str) -> dict[str, type]:
    """Plugins registered under the `karez.<kind>` entry-point group."""
    found: dict[str, type] = {}
    for ep in entry_points(group=f"karez.{kind}"):
        try:
            found[ep.name] = ep.load()
        except Exception as e:
            logger.error("Cannot load %s plugin %s from entry point %s: %s", kind, ep.name, ep.value, e)
    return found


def search_plugins(plugin_path: str | Path | None, kind: str) -> dict[str, type]:
    """Type name → class for a kind: built-ins, then entry points, then plugin files (later ones override)."""
    table = dict(BUILTIN_PLUGINS[kind])
    table.update(entry_point_plugins(kind))
    if plugin_path:
        for path in _plugin_files(Path(plugin_path) / kind):
            cls = load_plugin_file(path, kind)
            if cls is not None:
                table[path.stem] = cls
    return table


def all_plugins(plugin_path: str | Path | None) -> dict[str, dict[str, type]]:
    """`search_plugins` for every kind."""
    return {kind: search_plugins(plugin_path, kind) for kind in KINDS}

"""Plugin discovery: built-ins, `karez.<kind>` entry points and `<dir>/<kind>/<type>.py` files.

A type name resolves, strongest first, to a plugin file of the plugin directory (as upstream, so a config keeps its
meaning where its plugin directory defines a type), then a built-in, then an entry point of an installed
distribution. Built-ins win over entry points so that installing a package never changes what an existing config's
`type: echo` means; files win over both so that a plugin directory written for upstream Karez runs unchanged.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import cast

from karez.aggregator.extras import PLUGINS as AGGREGATORS
from karez.connector.extras import PLUGINS as CONNECTORS
from karez.converter.extras import PLUGINS as CONVERTERS
from karez.dispatcher.extras import PLUGINS as DISPATCHERS
from karez.role import RoleBase

logger = logging.getLogger("karez")

KINDS = ("dispatcher", "connector", "converter", "aggregator")
ENTRY_POINT_GROUPS = {kind: f"karez.{kind}" for kind in KINDS}
BUILTIN = "built-in"

BUILTIN_PLUGINS: dict[str, Mapping[str, type[RoleBase]]] = {
    "dispatcher": DISPATCHERS,
    "connector": CONNECTORS,
    "converter": CONVERTERS,
    "aggregator": AGGREGATORS,
}


class PluginError(Exception):
    """A plugin file could not be loaded."""


@dataclass(frozen=True, slots=True)
class FoundPlugin:
    """A plugin type as discovery resolved it: its class, where it came from and what of the same name it hides."""

    cls: type[RoleBase]
    origin: str
    hides: tuple[str, ...] = ()


def load_plugin_file(path: Path, kind: str) -> type[RoleBase] | None:
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
    # a class of the kind's base, by the plugin convention
    return cast("type[RoleBase] | None", getattr(module, kind.capitalize(), None))


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


def entry_point_origin(ep: EntryPoint) -> str:
    """`entry point <distribution> <version> (<module>:<attr>)`, or without the distribution when it is unknown."""
    dist = ep.dist
    owner = f" {dist.metadata['Name']} {dist.version}" if dist is not None else ""
    return f"entry point{owner} ({ep.value})"


def _installed_entry_points() -> dict[str, list[EntryPoint]]:
    """The entry points of every kind's group, reading the installed distributions once."""
    installed = entry_points()
    return {kind: list(installed.select(group=group)) for kind, group in ENTRY_POINT_GROUPS.items()}


def _entry_point_plugins(kind: str, eps: Iterable[EntryPoint]) -> dict[str, FoundPlugin]:
    found: dict[str, FoundPlugin] = {}
    for ep in eps:
        origin = entry_point_origin(ep)
        try:
            cls = ep.load()
        except Exception as e:
            # one broken distribution must not stop the roles of every other plugin: report it and go on
            logger.error("Cannot load %s type %s from %s: %s: %s", kind, ep.name, origin, type(e).__name__, e)
            continue
        previous = found.get(ep.name)
        found[ep.name] = FoundPlugin(cls, origin, (previous.origin,) if previous else ())
    return found


def entry_point_plugins(kind: str) -> dict[str, type]:
    """Plugins registered under the `karez.<kind>` entry-point group."""
    return {name: found.cls for name, found in _entry_point_plugins(kind, _installed_entry_points()[kind]).items()}


def _discover(plugin_path: str | Path | None, kind: str, eps: Iterable[EntryPoint]) -> dict[str, FoundPlugin]:
    table = _entry_point_plugins(kind, eps)
    for name, cls in BUILTIN_PLUGINS[kind].items():
        hidden = table.get(name)
        table[name] = FoundPlugin(cls, BUILTIN, (hidden.origin,) if hidden else ())
    if plugin_path:
        for path in _plugin_files(Path(plugin_path) / kind):
            loaded = load_plugin_file(path, kind)
            if loaded is not None:
                hidden = table.get(path.stem)
                table[path.stem] = FoundPlugin(loaded, f"file {path}", (hidden.origin,) if hidden else ())
    return table


def discover_plugins(plugin_path: str | Path | None, kind: str) -> dict[str, FoundPlugin]:
    """Type name → FoundPlugin for a kind: plugin files over built-ins over entry points."""
    return _discover(plugin_path, kind, _installed_entry_points()[kind])


def discover_all(plugin_path: str | Path | None) -> dict[str, dict[str, FoundPlugin]]:
    """`discover_plugins` for every kind (the installed entry points are read once)."""
    installed = _installed_entry_points()
    return {kind: _discover(plugin_path, kind, installed[kind]) for kind in KINDS}


def search_plugins(plugin_path: str | Path | None, kind: str) -> dict[str, type[RoleBase]]:
    """Type name → class for a kind: plugin files over built-ins over entry points."""
    return {name: found.cls for name, found in discover_plugins(plugin_path, kind).items()}


def all_plugins(plugin_path: str | Path | None) -> dict[str, dict[str, type]]:
    """`search_plugins` for every kind."""
    return {
        kind: {name: found.cls for name, found in table.items()} for kind, table in discover_all(plugin_path).items()
    }

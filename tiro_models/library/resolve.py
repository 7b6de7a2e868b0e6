"""Find the asset library a scenario names and load it once per (location, modification time)."""

from __future__ import annotations

import importlib
import importlib.util
import threading
from pathlib import Path

from ..errors import LibraryError
from .asset_type import AssetLibrary
from .python_library import PythonLibrary, import_python_library
from .yaml_library import YamlLibrary

YAML_SUFFIXES = (".yaml", ".yml")

_cache: dict[tuple[str, tuple[int, ...]], AssetLibrary] = {}
_lock = threading.Lock()


def search_roots(library_path: str | None, base_dir: Path | None) -> list[Path]:
    """Where to look: the scenario file's directory (joined with the library path), then the working directory."""
    roots: list[Path] = []
    relative = Path(library_path) if library_path else Path(".")
    if relative.is_absolute():
        roots.append(relative)
    else:
        if base_dir is not None:
            roots.append(base_dir / relative)
        roots.append(Path.cwd() / relative)
    unique: list[Path] = []
    for root in roots:
        resolved = root.resolve()
        if resolved not in unique:
            unique.append(resolved)
    return unique


def _candidates(name: str, root: Path) -> list[Path]:
    if name.endswith(YAML_SUFFIXES) or name.endswith(".py"):
        return [root / name]
    parts = name.split(".")
    return [root.joinpath(*parts), root.joinpath(*parts[:-1], parts[-1] + ".py")]


def _locate(name: str, roots: list[Path]) -> Path | None:
    for root in roots:
        for candidate in _candidates(name, root):
            if candidate.suffix in YAML_SUFFIXES or candidate.suffix == ".py":
                if candidate.is_file():
                    return candidate
            elif (candidate / "__init__.py").is_file():
                return candidate
    return None


def _signature(location: Path) -> tuple[int, ...]:
    files = sorted(location.rglob("*.py")) if location.is_dir() else [location]
    stamps: list[int] = []
    for file in files:
        stat = file.stat()
        stamps.extend((stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def _installed(name: str) -> AssetLibrary | None:
    """A library installed as an ordinary package (e.g. the private DCWiz library), imported the normal way."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return None
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        raise LibraryError(
            f"asset library {name!r} failed to import: {type(exc).__name__}: {exc}", spec.origin
        ) from None
    origin = Path(spec.origin)
    return PythonLibrary(name, origin.parent if origin.name == "__init__.py" else origin, module, origin.parent)


def open_library(name: str, library_path: str | None = None, base_dir: Path | None = None) -> AssetLibrary:
    """The asset library `name` (a Python module/package or a `.yaml` file), searched under `search_roots`.

    Raises LibraryError naming the library and every place searched (the caller adds the scenario file:line).
    """
    roots = search_roots(library_path, base_dir)
    location = _locate(name, roots)
    if location is None:
        installed = None if name.endswith((*YAML_SUFFIXES, ".py")) else _installed(name)
        if installed is not None:
            return installed
        searched = ", ".join(str(path) for root in roots for path in _candidates(name, root))
        raise LibraryError(f"asset library {name!r} not found (searched {searched})")
    key = (str(location), _signature(location))
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        if location.suffix in YAML_SUFFIXES:
            library: AssetLibrary = YamlLibrary(name, location)
        else:
            search_dir = location.parent
            if location.suffix != ".py" or not name.endswith(".py"):
                for _ in name.split(".")[1:]:
                    search_dir = search_dir.parent
            library = import_python_library(name, location, search_dir)
        _cache[key] = library
        return library


def clear_library_cache() -> None:
    """Forget every loaded library (the next load imports afresh)."""
    with _lock:
        _cache.clear()


__all__ = ["YAML_SUFFIXES", "clear_library_cache", "open_library", "search_roots"]

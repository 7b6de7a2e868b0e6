"""Task: load and compile a scenario with its uses, compiled once per distinct file content."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tiro_models.compile import load_model
from tiro_models.spec import Model

# The asset library sits next to the scenario (YAML files or a Python package); its files are part of the key.
_LIBRARY_SUFFIXES = (".yaml", ".yml", ".py")
_compiled: dict[str, Model] = {}


def content_key(scenario: str | os.PathLike, uses: Sequence[str | os.PathLike], strict: bool = False) -> str:
    """A digest of the scenario, uses and asset-library files' contents (and strictness)."""
    digest = hashlib.sha256(b"strict" if strict else b"lenient")
    scenario_path = Path(scenario)
    files = [scenario_path, *(Path(u) for u in uses)]
    library = sorted(
        p
        for p in scenario_path.resolve().parent.rglob("*")
        if p.suffix in _LIBRARY_SUFFIXES and p.is_file() and "__pycache__" not in p.parts
    )
    for path in [*files, *library]:
        digest.update(str(path).encode())
        digest.update(path.read_bytes())  # a missing scenario/uses file raises FileNotFoundError naming it
    return digest.hexdigest()


def compile_cached(scenario: str | os.PathLike, uses: Sequence[str | os.PathLike], strict: bool = False) -> Model:
    """The compiled model, reused while no file changed (flows in one process share it)."""
    key = content_key(scenario, uses, strict)
    model = _compiled.get(key)
    if model is None:
        model = load_model(scenario, list(uses), strict=strict)
        _compiled.clear()  # one live model per process is enough; an edited scenario replaces it
        _compiled[key] = model
    return model


@task(name="load-scenario", cache_policy=NO_CACHE)
def load_scenario(scenario: str, uses: list[str], strict: bool = False) -> Model:
    """Compile SCENARIO with USES (cached by file content); bad files raise an error naming file and line."""
    return compile_cached(scenario, uses, strict)

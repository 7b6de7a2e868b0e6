"""The layering of ARCHITECTURE.md, checked on every import statement: imports only go downward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"tiro_prefect", "tiro", "karez", "tiro_models", "line_protocol_text"}
MAY_IMPORT = {
    "tiro_prefect": {"tiro_prefect", "tiro", "karez", "tiro_models", "line_protocol_text"},
    "tiro": {"tiro", "karez", "tiro_models", "line_protocol_text"},
    "karez": {"karez", "line_protocol_text"},
    "tiro_models": {"tiro_models", "line_protocol_text"},
    "line_protocol_text": {"line_protocol_text"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_layer_imports_only_the_layers_below_it(package):
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.is_symlink() and "_scenarios" not in path.parts
        for line, name in _imports(path)
        if name in PROJECT and name not in MAY_IMPORT[package]
    ]
    assert wrong == []

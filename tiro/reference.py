"""Reading a reference YAML file (tree, value_range, uuid_map) for the mock server and the Karez converters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiro_models.errors import InputError
from tiro_models.yaml_io import load_yaml_file


def read_reference(path: Path | str) -> dict[str, Any]:
    """Parse a reference YAML file into a dict, with errors naming the file and line."""
    doc = load_yaml_file(path)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError("a reference file must be a mapping with tree, value_range and uuid_map", str(path), 1)
    return doc

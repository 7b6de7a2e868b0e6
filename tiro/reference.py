"""Reading a reference YAML file (tree, value_range, uuid_map) for the mock server and the Karez converters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tiro_models.errors import InputError


def read_reference(path: Path) -> dict[str, Any]:
    """Parse a reference YAML file into a dict, with errors naming the file and line."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"malformed YAML: {getattr(exc, 'problem', exc)}", str(path), mark.line + 1 if mark else None
        ) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError("a reference file must be a mapping with tree, value_range and uuid_map", str(path), 1)
    return doc

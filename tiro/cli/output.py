"""Writing JSON and YAML results to stdout or a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson


def to_json(obj: Any, *, indent: bool = True) -> str:
    """Serialise `obj` as JSON text (UTF-8, indented by two spaces unless `indent` is False)."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(obj, option=option, default=str).decode()


def emit(text: str, output: Path | None = None) -> None:
    """Write `text` (plus a newline) to `output`, or to stdout when no file is given."""
    if not text.endswith("\n"):
        text += "\n"
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")


def read_json(path: Path) -> Any:
    """Parse a JSON file, raising ValueError that names the file and position on bad JSON."""
    data = path.read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None

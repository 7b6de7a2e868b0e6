"""Scenario YAML → a tree of slot declarations ($type, $number, $ids, $defaults), every key with its line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import Reporter
from .errors import ScenarioError
from .spec import ATTRIBUTE, PATH_SEP, TELEMETRY, Source
from .yaml_io import item_line, key_line, node_line

META = "$"
LIBRARY_NAME = "$asset_library_name"
LIBRARY_PATH = "$asset_library_path"
SLOT_KEYS = ("$type", "$number", "$ids", "$defaults")
_RANGE = re.compile(r"\s*(\d+)\s*-\s*(\d+)\s*")


@dataclass(slots=True)
class SlotDecl:
    """One scenario slot as written: its key, types, count, ids, slot-scoped defaults and child slots."""

    name: str
    type_path: str
    type_names: tuple[str, ...]
    number: tuple[int, int] = (1, 1)
    ids: tuple[str, ...] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    default_lines: dict[str, int | None] = field(default_factory=dict)
    children: dict[str, SlotDecl] = field(default_factory=dict)
    source: Source = field(default_factory=Source)
    type_line: int | None = None


@dataclass(slots=True)
class ScenarioDecl:
    """A parsed scenario file: where its asset library is, and its top-level slots."""

    file: str | None
    library_name: str | None
    library_path: str | None
    library_line: int | None
    roots: dict[str, SlotDecl]


def parse_number(value: Any) -> tuple[tuple[int, int], str | None]:
    """`$number` → (min, max): an int, a numeric string, or "a-b"; returns ((1, 1), problem) when invalid."""
    if isinstance(value, bool):
        return (1, 1), f"$number must be an integer or a range 'a-b', not {value!r}"
    if isinstance(value, int):
        if value < 0:
            return (1, 1), f"$number must not be negative, got {value}"
        return (value, value), None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return (int(text), int(text)), None
        match = _RANGE.fullmatch(text)
        if match:
            low, high = int(match.group(1)), int(match.group(2))
            if low > high:
                return (1, 1), f"$number range {value!r} has its minimum above its maximum"
            return (low, high), None
    return (1, 1), f"$number must be an integer or a range 'a-b', not {value!r}"


def check_segment(name: Any) -> str | None:
    """Why `name` cannot be a slot or point name in a dotted path, or None when it can."""
    if not isinstance(name, str) or not name:
        return f"expected a non-empty name, got {name!r}"
    if PATH_SEP in name:
        return f"name {name!r} contains {PATH_SEP!r}, the path separator"
    if name in (TELEMETRY, ATTRIBUTE):
        return f"name {name!r} is reserved for the data-point category"
    return None


class _Parser:
    def __init__(self, file: str | None, reporter: Reporter) -> None:
        self.file = file
        self.reporter = reporter

    def error(self, message: str, line: int | None) -> None:
        self.reporter.error(ScenarioError, message, self.file, line)

    def slots(self, mapping: dict, prefix: str) -> dict[str, SlotDecl]:
        result: dict[str, SlotDecl] = {}
        for key, body in mapping.items():
            if isinstance(key, str) and key.startswith(META):
                continue
            line = key_line(mapping, key)
            problem = check_segment(key)
            if problem:
                self.error(f"slot {problem}", line)
                continue
            slot = self.slot(key, body, prefix + key, line)
            if slot is not None:
                result[key] = slot
        return result

    def slot(self, name: str, body: Any, type_path: str, line: int | None) -> SlotDecl | None:
        if not isinstance(body, dict):
            self.error(f"slot {type_path}: expected a mapping with `$type`, got {_kind(body)}", line)
            return None
        for key in body:
            if isinstance(key, str) and key.startswith(META) and key not in SLOT_KEYS:
                message = f"slot {type_path}: unknown key {key!r} (expected one of {', '.join(SLOT_KEYS)})"
                self.reporter.warning(message, self.file, key_line(body, key))
        decl = SlotDecl(name, type_path, (), source=Source(self.file, line))
        decl.type_names = self.types(body, type_path, line)
        decl.type_line = key_line(body, "$type") if "$type" in body else line
        explicit = "$number" in body
        if explicit:
            decl.number, problem = parse_number(body["$number"])
            if problem:
                self.error(f"slot {type_path}: {problem}", key_line(body, "$number"))
        if "$ids" in body:
            decl.ids = self.ids(body, type_path)
            if decl.ids is not None:
                decl.number = self.ids_number(decl, explicit, body)
        if "$defaults" in body:
            defaults = body["$defaults"]
            if isinstance(defaults, dict):
                for point, value in defaults.items():
                    decl.defaults[str(point)] = value
                    decl.default_lines[str(point)] = key_line(defaults, point)
            elif defaults is not None:
                self.error(
                    f"slot {type_path}: $defaults must map data-point names to values", key_line(body, "$defaults")
                )
        decl.children = self.slots(body, type_path + PATH_SEP)
        return decl

    def types(self, body: dict, type_path: str, line: int | None) -> tuple[str, ...]:
        if "$type" not in body:
            self.error(f"slot {type_path}: missing `$type` (the asset type from the library)", line)
            return ()
        value = body["$type"]
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(name, str) and name.strip() for name in names):
            self.error(
                f"slot {type_path}: $type must be a type name or a list of them, got {value!r}", key_line(body, "$type")
            )
            return ()
        return tuple(name.strip() for name in names)

    def ids(self, body: dict, type_path: str) -> tuple[str, ...] | None:
        value = body["$ids"]
        line = key_line(body, "$ids")
        if not isinstance(value, list) or not value:
            self.error(f"slot {type_path}: $ids must be a non-empty list of ids", line)
            return None
        ids: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, dict | list) or item is None:
                self.error(f"slot {type_path}: $ids item {item!r} is not a scalar id", item_line(value, index))
                return None
            text = str(item)
            if text in ids:
                self.error(f"slot {type_path}: $ids repeats {text!r}", item_line(value, index))
                return None
            if PATH_SEP in text:
                self.error(
                    f"slot {type_path}: id {text!r} contains {PATH_SEP!r}, the path separator", item_line(value, index)
                )
                return None
            ids.append(text)
        return tuple(ids)

    def ids_number(self, decl: SlotDecl, explicit: bool, body: dict) -> tuple[int, int]:
        assert decl.ids is not None
        count = len(decl.ids)
        if not explicit:
            # Tiro 0.13 kept $number 1 and used only the first id; every listed id is meant
            return (count, count)
        low, high = decl.number
        line = key_line(body, "$number")
        if low == high and low > count:
            self.error(f"slot {decl.type_path}: $number {low} is more than the {count} $ids given", line)
        elif high > count:
            self.reporter.warning(
                f"slot {decl.type_path}: $number range {low}-{high} exceeds the {count} $ids given; at most {count}",
                self.file,
                line,
            )
            return (min(low, count), count)
        return decl.number


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    for kind, label in ((bool, "a boolean"), (str, "a string"), (int | float, "a number"), (list, "a list")):
        if isinstance(value, kind):
            return label
    return type(value).__name__


def parse_scenario(doc: Any, file: str | None, reporter: Reporter) -> ScenarioDecl:
    """Read a parsed scenario document into declarations; problems go to `reporter` with file and line."""
    parser = _Parser(file, reporter)
    if not isinstance(doc, dict):
        parser.error(f"a scenario must be a mapping of slots, got {_kind(doc)}", node_line(doc) or 1)
        return ScenarioDecl(file, None, None, None, {})
    name = doc.get(LIBRARY_NAME)
    path = doc.get(LIBRARY_PATH)
    if name is not None and not isinstance(name, str):
        parser.error(f"{LIBRARY_NAME} must be a string, got {name!r}", key_line(doc, LIBRARY_NAME))
        name = None
    if path is not None and not isinstance(path, str):
        parser.error(f"{LIBRARY_PATH} must be a string, got {path!r}", key_line(doc, LIBRARY_PATH))
        path = None
    for key in doc:
        if isinstance(key, str) and key.startswith(META) and key not in (LIBRARY_NAME, LIBRARY_PATH):
            reporter.warning(f"unknown top-level key {key!r}", file, key_line(doc, key))
    line = key_line(doc, LIBRARY_NAME) if LIBRARY_NAME in doc else (node_line(doc) or 1)
    roots = parser.slots(doc, "")
    if not roots:
        reporter.warning("the scenario declares no slots", file, node_line(doc) or 1)
    return ScenarioDecl(file, name, path, line, roots)

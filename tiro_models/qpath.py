"""The qpath DSL (tiro-upstream §5.4) parsed into a query description that every graph backend evaluates the same way.

A qpath is a nested mapping of slot keys, e.g.::

    DataHall:
      Rack: {$name_match: _1, Server: {FlowRate: {$lt: 400}}}
      CRAC: {ActivePower: null, _ReturnTemperature: {$gt: 25}}

Parsing rules (upstream): a key whose value is a mapping holding at least one non-`$` key is a child slot, and so is
a mapping holding `$name_match` (upstream read that as a point and failed); any other key is a data point whose value
is null or a mapping of `$`-filters. A point name starting with `_` is *auxiliary*: fetched for filtering, not output.

Evaluation semantics (the same for sqlite and Arango; upstream's were ill-defined):
- an asset of a node is *kept* when its id matches `$name_match` (``re.search``, as AQL ``=~``) and every filter of
  every point of the node holds (ANDed); a point without a (fresh) value fails its filters. An asset that is not kept
  is pruned together with its whole subtree;
- a kept asset outputs its selected non-auxiliary points that have a (fresh) value; a node selecting no visible points
  and no children outputs all points of its kept assets;
- `$gt/$ge/$lt/$le` compare numbers (bools and strings never match), with `$lt` meaning "less than" (upstream emitted
  ">"); `$match`/`$not_match` apply ``re.search`` to the value's text; values are never interpolated into queries.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tiro_models.errors import InputError
from tiro_models.spec import PATH_SEP, Model
from tiro_models.yaml_io import key_line, load_yaml_file, parse_yaml

__all__ = [
    "COMPARISONS",
    "FILTER_OPS",
    "NAME_MATCH",
    "PointFilter",
    "QNode",
    "QPath",
    "QPathError",
    "QPoint",
    "load_qpath",
    "parse_qpath",
]

NAME_MATCH = "$name_match"
COMPARISONS = ("gt", "ge", "lt", "le")
FILTER_OPS = (*COMPARISONS, "match", "not_match")


class QPathError(InputError):
    """A qpath document is malformed: names the file and line (when known) and the qpath location."""


@dataclass(frozen=True, slots=True)
class PointFilter:
    """One condition on a data point's value: `op` is one of FILTER_OPS (without the `$`)."""

    op: str
    operand: float | str

    def accepts(self, value: Any) -> bool:
        """Whether `value` satisfies this condition (a value of the wrong kind never does)."""
        op = self.op
        if op in ("match", "not_match"):
            if value is None:
                return False
            text = value if isinstance(value, str) else _text(value)
            found = _regex(str(self.operand)).search(text) is not None
            return found if op == "match" else not found
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN never compares
            return False
        operand = self.operand
        assert not isinstance(operand, str)  # the parser gives comparisons a number
        if op == "gt":
            return value > operand
        if op == "ge":
            return value >= operand
        if op == "lt":
            return value < operand
        return value <= operand

    def to_dict(self) -> dict[str, Any]:
        """`{"$op": operand}` as written in a qpath."""
        return {f"${self.op}": self.operand}


@dataclass(frozen=True, slots=True)
class QPoint:
    """A data point a node asks for: its name, type path, filters, and whether it is auxiliary (not output)."""

    name: str
    type_path: str
    filters: tuple[PointFilter, ...] = ()
    auxiliary: bool = False

    @property
    def stored_name(self) -> str:
        """The point's name in the data: an auxiliary point `_X` refers to point `X`."""
        return self.name[1:] if self.auxiliary else self.name

    def accepts(self, value: Any) -> bool:
        """Whether `value` satisfies every filter (True when there are none)."""
        return all(f.accepts(value) for f in self.filters)


@dataclass(frozen=True, slots=True)
class QNode:
    """A slot of the qpath: its key, type path, id constraint, requested points and child nodes."""

    slot: str
    type_path: str
    name_match: str | None = None
    points: tuple[QPoint, ...] = ()
    children: tuple[QNode, ...] = ()

    def name_accepts(self, asset_id: str) -> bool:
        """Whether an asset id satisfies `$name_match` (re.search; True without a constraint)."""
        return self.name_match is None or _regex(self.name_match).search(asset_id) is not None

    @property
    def all_points(self) -> bool:
        """True when the node selects no visible point and no child: its kept assets output every point."""
        return not self.children and not any(not p.auxiliary for p in self.points)

    @property
    def filtered_points(self) -> tuple[QPoint, ...]:
        """The points whose filters decide whether an asset is kept."""
        return tuple(p for p in self.points if p.filters)

    def keeps(self, asset_id: str, values: Mapping[str, Any]) -> bool:
        """Whether an asset is kept, given its (fresh) values by stored point name (absent: no value)."""
        if not self.name_accepts(asset_id):
            return False
        for point in self.points:
            if point.filters:
                name = point.stored_name
                if name not in values or not point.accepts(values[name]):
                    return False
        return True

    def output_names(self) -> frozenset[str] | None:
        """Stored names of the points a kept asset outputs, or None for "all of them"."""
        if self.all_points:
            return None
        return frozenset(p.stored_name for p in self.points if not p.auxiliary)

    def walk(self) -> Iterator[QNode]:
        """This node and its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class QPath:
    """A parsed qpath: its root nodes (top-level slots)."""

    roots: tuple[QNode, ...]

    def walk(self) -> Iterator[QNode]:
        """Every node, depth first."""
        for root in self.roots:
            yield from root.walk()

    def node_type_paths(self) -> list[str]:
        """The asset type paths of every node, depth first."""
        return [node.type_path for node in self.walk()]

    def point_type_paths(self) -> list[str]:
        """The type paths of every explicitly requested point (stored names, auxiliary ones included)."""
        return [f"{node.type_path}{PATH_SEP}{p.stored_name}" for node in self.walk() for p in node.points]


_regex_cache: dict[str, re.Pattern[str]] = {}


def _regex(text: str) -> re.Pattern[str]:
    pattern = _regex_cache.get(text)
    if pattern is None:
        if len(_regex_cache) > 4096:
            _regex_cache.clear()
        pattern = _regex_cache[text] = re.compile(text)
    return pattern


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Parser:
    """Walks the mapping, keeping the file for error messages."""

    def __init__(self, file: str | None, model: Model | None) -> None:
        self.file = file
        self.model = model

    def error(self, where: str, message: str, mapping: Any = None, key: Any = None) -> QPathError:
        line = key_line(mapping, key) if mapping is not None else None
        return QPathError(f"qpath {where or '<root>'}: {message}", self.file, line)

    def nodes(self, mapping: Any, parent_type_path: str) -> tuple[QNode, ...]:
        if not isinstance(mapping, Mapping) or not mapping:
            raise self.error(parent_type_path, "expected a non-empty mapping of slot keys")
        out = []
        for key, value in mapping.items():
            if not isinstance(key, str) or not key or PATH_SEP in key or key.startswith("$"):
                raise self.error(parent_type_path, f"invalid slot key {key!r}", mapping, key)
            if not _is_node(value):
                raise self.error(
                    _join(parent_type_path, key),
                    "expected a slot: a mapping of child slots and data points",
                    mapping,
                    key,
                )
            out.append(self.node(key, value, _join(parent_type_path, key), mapping))
        return tuple(out)

    def node(self, slot: str, mapping: Mapping[str, Any], type_path: str, parent: Any) -> QNode:
        self.check_slot(type_path, parent, slot)
        name_match = None
        points: list[QPoint] = []
        children: list[QNode] = []
        for key, value in mapping.items():
            if key == NAME_MATCH:
                if not isinstance(value, str):
                    raise self.error(type_path, f"{NAME_MATCH} must be a regex string, got {value!r}", mapping, key)
                self.check_regex(value, type_path, mapping, key)
                name_match = value
            elif not isinstance(key, str) or not key or PATH_SEP in key:
                raise self.error(type_path, f"invalid key {key!r}", mapping, key)
            elif key.startswith("$"):
                raise self.error(type_path, f"unknown slot operator {key!r} (only {NAME_MATCH})", mapping, key)
            elif _is_node(value):
                children.append(self.node(key, value, _join(type_path, key), mapping))
            else:
                points.append(self.point(key, value, type_path, mapping))
        return QNode(slot, type_path, name_match, tuple(points), tuple(children))

    def point(self, name: str, value: Any, node_type_path: str, mapping: Any) -> QPoint:
        auxiliary = name.startswith("_") and len(name) > 1
        stored = name[1:] if auxiliary else name
        where = _join(node_type_path, name)
        self.check_point(node_type_path, stored, mapping, name)
        if value is None:
            return QPoint(name, _join(node_type_path, stored), (), auxiliary)
        if not isinstance(value, Mapping):
            raise self.error(where, f"a data point takes null or a mapping of $-filters, got {value!r}", mapping, name)
        filters = []
        for op_key, operand in value.items():
            op = op_key[1:] if isinstance(op_key, str) and op_key.startswith("$") else None
            if op not in FILTER_OPS:
                raise self.error(
                    where, f"unknown filter {op_key!r} (use {', '.join('$' + o for o in FILTER_OPS)})", value, op_key
                )
            if op in COMPARISONS:
                if isinstance(operand, bool) or not isinstance(operand, int | float) or math.isnan(operand):
                    raise self.error(where, f"${op} needs a number, got {operand!r}", value, op_key)
            else:
                if not isinstance(operand, str):
                    raise self.error(where, f"${op} needs a regex string, got {operand!r}", value, op_key)
                self.check_regex(operand, where, value, op_key)
            filters.append(PointFilter(op, operand))
        return QPoint(name, _join(node_type_path, stored), tuple(filters), auxiliary)

    def check_regex(self, text: str, where: str, mapping: Any, key: Any) -> None:
        try:
            _regex(text)
        except re.error as exc:
            raise self.error(where, f"invalid regex {text!r}: {exc}", mapping, key) from None

    def check_slot(self, type_path: str, mapping: Any, key: str) -> None:
        if self.model is not None and type_path not in self.model.slots:
            raise self.error(type_path, "no such slot in the model", mapping, key)

    def check_point(self, node_type_path: str, stored: str, mapping: Any, key: str) -> None:
        if self.model is None:
            return
        slot = self.model.slots.get(node_type_path)
        if slot is not None and stored not in slot.points and stored not in slot.known_points:
            raise self.error(_join(node_type_path, stored), "no such data point in the model", mapping, key)


def _is_node(value: Any) -> bool:
    """Upstream's rule (a mapping with a non-`$` key is a child), plus mappings that constrain the name."""
    if not isinstance(value, Mapping):
        return False
    return NAME_MATCH in value or any(not (isinstance(k, str) and k.startswith("$")) for k in value)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}{PATH_SEP}{name}" if prefix else name


def parse_qpath(source: Mapping[str, Any] | str, *, model: Model | None = None, file: str | None = None) -> QPath:
    """Parse a qpath mapping (or YAML text); with `model`, unknown slots and points are errors too."""
    if isinstance(source, str):
        source = parse_yaml(source, file, QPathError)
    return QPath(_Parser(file, model).nodes(source, ""))


def load_qpath(path: str | os.PathLike, *, model: Model | None = None) -> QPath:
    """Read and parse a qpath YAML (or JSON) file; errors name the file and line."""
    file = os.fspath(path)
    return QPath(_Parser(file, model).nodes(load_yaml_file(file, QPathError), ""))

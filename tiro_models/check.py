"""Lint a scenario, its uses and its asset library: every problem found, each with file and line."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .compile import Compiler, SlotNode
from .diagnostics import ERROR, WARNING, Diagnostic, Reporter
from .errors import InputError, ScenarioError, UsesError
from .scenario import parse_scenario
from .spec import PointDef
from .uses import UseEntry, parse_uses
from .yaml_io import load_yaml_file

__all__ = ["ERROR", "WARNING", "Diagnostic", "check", "range_problem", "value_problem"]

_TYPES: dict[str, tuple[type, ...]] = {"float": (int, float), "int": (int,), "str": (str,), "bool": (bool,)}


def range_problem(point: PointDef) -> str | None:
    """Why the point's bounds admit no value (e.g. ge > le), or None."""
    low = [(value, op) for value, op in ((point.ge, ">="), (point.gt, ">")) if value is not None]
    high = [(value, op) for value, op in ((point.le, "<="), (point.lt, "<")) if value is not None]
    for low_value, low_op in low:
        for high_value, high_op in high:
            empty = low_value > high_value or (low_value == high_value and (low_op == ">" or high_op == "<"))
            if empty:
                return f"no value can be {low_op} {low_value} and {high_op} {high_value}"
    return None


def value_problem(point: PointDef, value: Any) -> str | None:
    """Why `value` is not a valid value of the point (type, choices, bounds), or None."""
    if value is None:
        return None  # None means "no default" in Tiro 0.13 libraries
    if point.kind == "enum":
        return None if value in (point.choices or ()) else f"{value!r} is not one of {list(point.choices or ())}"
    if point.kind == "any":
        return _any_problem(point, value)
    expected = _TYPES[point.kind]
    if not isinstance(value, expected) or (point.kind != "bool" and isinstance(value, bool)):
        return f"{value!r} is not a {point.kind}"
    if point.kind in ("float", "int"):
        if isinstance(value, float) and math.isnan(value):
            return "NaN is not a valid number"
        for bound, fails, word in (
            (point.ge, lambda v, b: v < b, ">="),
            (point.gt, lambda v, b: v <= b, ">"),
            (point.le, lambda v, b: v > b, "<="),
            (point.lt, lambda v, b: v >= b, "<"),
        ):
            if bound is not None and fails(value, bound):
                return f"{value!r} is not {word} {bound}"
    return None


def _any_problem(point: PointDef, value: Any) -> str | None:
    if point.py_type is None:
        return None
    try:
        from pydantic import TypeAdapter, ValidationError

        TypeAdapter(point.py_type).validate_python(value)
    except ValidationError as exc:
        return f"{value!r} is not valid: {exc.errors()[0].get('msg', exc)}"
    except Exception:
        return None  # an annotation pydantic cannot validate is not this lint's business
    return None


def _walk(nodes: Iterable[SlotNode]) -> Iterable[SlotNode]:
    for node in nodes:
        yield node
        yield from _walk(node.children.values())


def _lint_library_points(roots: dict[str, SlotNode], reporter: Reporter) -> None:
    seen: set[int] = set()
    for node in _walk(roots.values()):
        for point in node.known.values():
            if id(point) in seen:
                continue
            seen.add(id(point))
            where = point.source
            problem = range_problem(point)
            if problem:
                reporter.error(InputError, f"data point {point.name}: invalid range: {problem}", where.file, where.line)
            elif point.has_default:
                problem = value_problem(point, point.default)
                if problem:
                    message = f"data point {point.name}: default {problem}"
                    reporter.error(InputError, message, where.file, where.line)


def _lint_slot_defaults(roots: dict[str, SlotNode], file: str | None, reporter: Reporter) -> None:
    for node in _walk(roots.values()):
        for name, value in node.defaults.items():
            point = node.known.get(name)
            if point is None:
                continue  # reported by the compiler
            problem = value_problem(point, value)
            if problem:
                message = f"slot {node.type_path}: $defaults {name}: {problem}"
                reporter.error(ScenarioError, message, file, node.default_lines.get(name))


def _unrequired_slots(roots: dict[str, SlotNode], required: set[str], file: str | None, reporter: Reporter) -> None:
    for node in _walk(roots.values()):
        if node.type_path not in required and not node.broken:
            reporter.warning(f"slot {node.type_path} is not required by any uses file", file, node.source.line)


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return list(dict.fromkeys(diagnostics))


def check(scenario: str | os.PathLike, uses: Sequence[str | os.PathLike]) -> list[Diagnostic]:
    """Every problem in the scenario, uses and asset library (strict: unknown uses leaves are errors)."""
    reporter = Reporter(collect=True)
    scenario_file = os.fspath(scenario)
    try:
        scenario_doc = load_yaml_file(scenario_file, ScenarioError)
    except InputError as exc:
        reporter.raised(exc)
        return reporter.diagnostics
    decl = parse_scenario(scenario_doc, scenario_file, reporter)
    entries: list[UseEntry] = []
    for path in [uses] if isinstance(uses, str | os.PathLike) else uses:
        file = os.fspath(path)
        try:
            entries.extend(parse_uses(load_yaml_file(file, UsesError), file, reporter))
        except InputError as exc:
            reporter.raised(exc)
    compiler = Compiler(reporter, strict=True)
    library = compiler.open_library(decl, Path(scenario_file).resolve().parent)
    roots = compiler.resolve(decl, library)
    model = compiler.build(roots, entries, scenario_file)
    _lint_library_points(roots, reporter)
    _lint_slot_defaults(roots, scenario_file, reporter)
    if entries:
        _unrequired_slots(roots, set(model.slots), scenario_file, reporter)
    return _dedupe(reporter.diagnostics)

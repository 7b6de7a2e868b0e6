"""Start-up validation of a whole Karez configuration: every problem, one clear line each."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from karez.config import collect_entities
from karez.dispatcher.base import MODES as DISPATCH_MODES
from karez.plugins import KINDS
from karez.settings import ROLE_LISTS

RESERVED_CATEGORIES = frozenset({"connector", "converter", "dispatcher", "dlq", "metrics"})
_BAD_TOKEN = re.compile(r"[.*>\s\x00-\x1f\x7f]")


@dataclass
class ValidationReport:
    """Errors (fatal) and warnings found in a configuration."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors."""
        return not self.errors


def is_valid_token(value: Any) -> bool:
    """A non-empty single NATS subject token (no `.`, `*`, `>`, whitespace or control characters)."""
    return isinstance(value, str) and bool(value) and not _BAD_TOKEN.search(value)


def _where(cfg: Any, kind: str, index: int) -> str:
    origin = getattr(cfg, "origin", "") or ""
    prefix = f"{origin}: " if origin else ""
    name = cfg.get("name") or cfg.get("type") if isinstance(cfg, Mapping) else None
    return f"{prefix}{ROLE_LISTS[kind]}[{index}] ({kind} {name!r})"


def _as_list(value: Any) -> list[Any]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value) if isinstance(value, list) else [value]


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt in graph and state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def validate_config(settings: Mapping[str, Any], plugins: Mapping[str, Mapping[str, type]]) -> ValidationReport:
    """Check types, required keys, names, references, cycles and categories of every role."""
    report = ValidationReport()
    names: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    roles: dict[str, list[tuple[str, Mapping[str, Any]]]] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        entries = settings.get(ROLE_LISTS[kind]) or []
        if not isinstance(entries, list):
            report.errors.append(f"{ROLE_LISTS[kind]}: must be a list of role configs")
            continue
        for i, cfg in enumerate(entries):
            where = _where(cfg, kind, i)
            if not isinstance(cfg, Mapping):
                report.errors.append(f"{where}: a role config must be a mapping, got {type(cfg).__name__}")
                continue
            type_name = cfg.get("type")
            if not type_name:
                report.errors.append(f"{where}: missing required key 'type'")
                continue
            cls = plugins.get(kind, {}).get(type_name)
            if cls is None:
                known = ", ".join(sorted(plugins.get(kind, {}))) or "none"
                report.errors.append(f"{where}: unknown {kind} type {type_name!r} (known: {known})")
            else:
                present = {str(k).lower() for k in cfg}
                for entity in collect_entities(cls).values():
                    if entity.required and entity.name.lower() not in present:
                        report.errors.append(f"{where}: missing required key {entity.name!r}")
            name = cfg.get("name") or type_name
            if not is_valid_token(name):
                report.errors.append(f"{where}: name {name!r} is not a valid NATS subject token")
            elif name in names[kind] and names[kind][name] != where:
                report.warnings.append(f"{where}: a second {kind} named {name!r}; both share one queue group")
            names[kind][name] = where
            roles[kind].append((where, cfg))

    _check_references(report, names, roles)
    _check_categories(report, roles)
    return report


def _check_references(report: ValidationReport, names: dict[str, Any], roles: dict[str, Any]) -> None:
    converters = names["converter"]
    for where, cfg in roles["dispatcher"]:
        mode = str(cfg.get("mode") or "burst").lower()
        if mode not in DISPATCH_MODES:
            report.errors.append(f"{where}: mode {cfg.get('mode')!r} is not one of {', '.join(DISPATCH_MODES)}")
        target = cfg.get("connector")
        if target and target not in names["connector"]:
            report.errors.append(f"{where}: connector {target!r} is not defined")
    for where, cfg in roles["connector"]:
        targets = _as_list(cfg.get("converter") if "converter" in cfg else cfg.get("converters"))
        for t in targets:
            if t and t not in converters:
                report.errors.append(f"{where}: converter {t!r} is not defined")
    graph: dict[str, list[str]] = {}
    for where, cfg in roles["converter"]:
        name = cfg.get("name") or cfg.get("type")
        targets = [t for t in _as_list(cfg.get("next")) if t]
        for t in targets:
            if t not in converters:
                report.errors.append(f"{where}: next converter {t!r} is not defined")
        graph.setdefault(name, []).extend(targets)
    cycle = _find_cycle(graph)
    if cycle:
        report.errors.append(f"converter cycle: {' -> '.join(cycle)}")


def _check_category(report: ValidationReport, where: str, category: Any, what: str) -> None:
    if not is_valid_token(category):
        report.errors.append(f"{where}: {what} {category!r} is not a valid NATS subject token")
    elif category.lower() in RESERVED_CATEGORIES:
        report.errors.append(f"{where}: {what} {category!r} is reserved (collides with karez.{category}.*)")


def _check_categories(report: ValidationReport, roles: dict[str, Any]) -> None:
    by_queue: dict[tuple[str, str], list[str]] = {}
    for where, cfg in roles["aggregator"]:
        category = cfg.get("category")
        if category is None:
            continue  # reported as a missing required key
        _check_category(report, where, category, "category")
        queue = cfg.get("queue") or category
        by_queue.setdefault((str(category), str(queue)), []).append(cfg.get("name") or cfg.get("type"))
    for (category, _queue), members in by_queue.items():
        if len(set(members)) > 1:
            report.warnings.append(
                f"aggregators {', '.join(sorted(set(members)))} share category {category!r}: they split the "
                "stream instead of each getting a copy (set a distinct 'queue' to give each a copy)"
            )
    for where, cfg in roles["converter"]:
        rename = cfg.get("rename")
        if cfg.get("type") == "filter_and_update_meta" and isinstance(rename, Mapping):
            for new in rename.values():
                _check_category(report, where, new, "renamed category")

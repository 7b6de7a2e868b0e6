"""Scenario, uses and reference drafts from a snapshot CSV (tiro-upstream §7), with the standard csv module.

CSV columns: `data_point, asset, asset_type, parent_asset, value`, optional `uuid`; one row per (asset, data point), a
container asset gets a row with empty `data_point`/`value`. Fixes over upstream:
- `name_style="camel"` turns point and type names into CamelCase (`Supply Temperature` -> `SupplyTemperature`);
  `"keep"` (the default) keeps them as upstream does (only `. / \\ &` runs become `_`, whitespace runs one space).
- value ranges use the numeric cells only (a column with no numeric cell gives no range, never string min/max);
- a parent with no row of its own becomes a top-level container whose type is its id in CamelCase without a
  trailing number (`data_hall` -> `DataHall`, `rack_1` -> `Rack`), instead of a KeyError;
- malformed rows and missing columns give an InputError naming the file and line.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tiro_models.errors import InputError

__all__ = ["NAME_STYLES", "DraftResult", "draft", "dump_yaml", "format_name", "to_camel"]

NAME_STYLES = ("keep", "camel")
REQUIRED_COLUMNS = ("data_point", "asset", "asset_type", "parent_asset", "value")
# Cells pandas 1.5 (upstream's lock) reads as NaN by default.
_NA_CELLS = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA"}
    | {"NULL", "NaN", "n/a", "nan", "null"}
)
_SEPARATOR_RUNS = re.compile(r"[./\\&]+")
_SPACE_RUNS = re.compile(r"\s+")
_WORDS = re.compile(r"[A-Za-z0-9]+")
_TRAILING_NUMBER = re.compile(r"[\s_\-]*\d+$")


@dataclass(slots=True)
class DraftResult:
    """The three drafts: scenario mapping, uses list, reference mapping (tree, value_range, uuid_map)."""

    scenario: dict[str, Any]
    uses: list[Any]
    reference: dict[str, Any]


@dataclass(slots=True)
class _Asset:
    name: str
    type: str
    parent: str | None
    line: int


def format_name(name: str) -> str:
    """Upstream name cleaning: runs of `. / \\ &` become `_`, runs of whitespace one space (no trimming)."""
    return _SPACE_RUNS.sub(" ", _SEPARATOR_RUNS.sub("_", name))


def to_camel(name: str) -> str:
    """CamelCase of a name: its letter/digit words, first letters upper-cased (`CPU temp` -> `CPUTemp`)."""
    return "".join(word[0].upper() + word[1:] for word in _WORDS.findall(name)) or name


def _cell(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    value = value if isinstance(value, str) else str(value)
    return None if value.strip() in _NA_CELLS else value


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class _Draft:
    """The parsed CSV and the derived asset paths."""

    def __init__(self, csv_path: str | os.PathLike[str], name_style: str) -> None:
        if name_style not in NAME_STYLES:
            raise ValueError(f"name_style must be one of {NAME_STYLES}, not {name_style!r}")
        self.file = str(csv_path)
        self.style = name_style
        self.rows: list[dict[str, Any]] = []  # cleaned: data_point, asset, value, uuid, line
        self.assets: dict[str, _Asset] = {}
        self.has_uuid = False
        self._read()
        self._add_containers()
        self.asset_paths: dict[str, str] = {}
        self.type_chains: dict[str, tuple[str, ...]] = {}
        for name in self.assets:
            self._path_of(name)

    def _point_name(self, raw: str) -> str:
        name = format_name(raw)
        return to_camel(name) if self.style == "camel" else name

    def _read(self) -> None:
        try:
            handle = open(self.file, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot read CSV: {exc.strerror}", self.file) from None
        with handle:
            reader = csv.DictReader(handle)
            try:
                header = reader.fieldnames
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InputError(f"malformed CSV header: {exc}", self.file, 1) from None
            if not header:
                raise InputError("empty CSV: expected a header row " + ",".join(REQUIRED_COLUMNS), self.file, 1)
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise InputError(f"missing column(s) {', '.join(missing)} in the header", self.file, 1)
            self.has_uuid = "uuid" in header
            width = len(header)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise InputError(f"malformed CSV row: {exc}", self.file, reader.line_num) from None
                self._add_row(row, reader.line_num, width)

    def _add_row(self, row: dict[Any, Any], line: int, width: int) -> None:  # DictReader puts extra cells at None
        if None in row or any(v is None for v in row.values()):
            got = width + len(row.get(None) or ()) - sum(v is None for v in row.values())
            raise InputError(f"row has {got} fields, the header has {width}", self.file, line)
        asset = _cell(row, "asset")
        asset_type = _cell(row, "asset_type")
        if asset is None or asset_type is None:
            raise InputError("row without asset or asset_type", self.file, line)
        asset = format_name(asset)
        parent = _cell(row, "parent_asset")
        parent = format_name(parent) if parent is not None else None
        if parent == asset:
            raise InputError(f"asset {asset!r} is its own parent", self.file, line)
        if asset not in self.assets:
            self.assets[asset] = _Asset(asset, self._point_name(asset_type), parent, line)
        data_point = _cell(row, "data_point")
        self.rows.append(
            {
                "data_point": self._point_name(data_point) if data_point is not None else None,
                "asset": asset,
                "value": _cell(row, "value"),
                "uuid": _cell(row, "uuid") if self.has_uuid else None,
                "line": line,
            }
        )

    def _add_containers(self) -> None:
        for asset in list(self.assets.values()):
            parent = asset.parent
            if parent is not None and parent not in self.assets:
                self.assets[parent] = _Asset(parent, to_camel(_TRAILING_NUMBER.sub("", parent) or parent), None, 0)

    def _path_of(self, name: str) -> str:
        """Asset path of an asset, computing its ancestors' first (iteratively: chains may be deep)."""
        pending: list[str] = []
        current: str | None = name
        while current is not None and current not in self.asset_paths:
            if current in pending:
                cycle = " -> ".join((*pending[pending.index(current) :], current))
                raise InputError(
                    f"asset {current!r} is its own ancestor ({cycle})", self.file, self.assets[current].line
                )
            pending.append(current)
            current = self.assets[current].parent
        for asset_name in reversed(pending):
            asset = self.assets[asset_name]
            own = f"{asset.type}.{asset_name}"
            if asset.parent is None:
                self.asset_paths[asset_name] = own
                self.type_chains[asset_name] = (asset.type,)
            else:
                self.asset_paths[asset_name] = f"{self.asset_paths[asset.parent]}.{own}"
                self.type_chains[asset_name] = (*self.type_chains[asset.parent], asset.type)
        return self.asset_paths[name]

    def scenario(self) -> dict[str, Any]:
        # Distinct children per parent asset, grouped by (parent type, child type).
        children: dict[tuple[str, str], dict[str, set[str]]] = {}
        roots: dict[str, set[str]] = {}
        for asset in self.assets.values():
            if asset.parent is None:
                roots.setdefault(asset.type, set()).add(asset.name)
            else:
                key = (self.assets[asset.parent].type, asset.type)
                children.setdefault(key, {}).setdefault(asset.parent, set()).add(asset.name)
        numbers: dict[tuple[str | None, str], int | str] = {}
        for key, by_parent in children.items():
            low = min(map(len, by_parent.values()))
            high = max(map(len, by_parent.values()))
            numbers[key] = low if low == high else f"{low}-{high}"
        for type_name, names in roots.items():
            numbers[(None, type_name)] = len(names)
        scenario: dict[str, Any] = {}
        for name in self.assets:
            node = scenario
            parent_type: str | None = None
            for type_name in self.type_chains[name]:
                if type_name not in node:
                    node[type_name] = {"$type": type_name, "$number": numbers[(parent_type, type_name)]}
                node = node[type_name]
                parent_type = type_name
        return scenario

    def uses(self) -> list[Any]:
        tree: dict[str, Any] = {}
        for row in self.rows:
            if row["data_point"] is None:
                continue
            node = tree
            for type_name in self.type_chains[row["asset"]]:
                node = node.setdefault(type_name, {})
            node.setdefault(row["data_point"], None)
        return _sorted_uses(tree)

    def reference(self) -> dict[str, Any]:
        points_by_asset: dict[str, list[str]] = {}
        ranges: dict[str, list[float]] = {}
        uuid_map: dict[str, str] = {}
        for row in self.rows:
            data_point = row["data_point"]
            if data_point is None:
                continue
            asset = row["asset"]
            names = points_by_asset.setdefault(self.asset_paths[asset], [])
            if data_point not in names:
                names.append(data_point)
            number = _number(row["value"])
            if number is not None:
                type_path = ".".join((*self.type_chains[asset], data_point))
                bounds = ranges.get(type_path)
                if bounds is None:
                    ranges[type_path] = [number, number]
                else:
                    bounds[0] = min(bounds[0], number)
                    bounds[1] = max(bounds[1], number)
            key = row["uuid"] if row["uuid"] is not None else f"{asset}.{data_point}"
            uuid_map[key] = f"{self.asset_paths[asset]}.{data_point}"
        tree: dict[str, Any] = {}
        for asset_path in sorted(points_by_asset):
            node = tree
            for segment in asset_path.split("."):
                node = node.setdefault(segment, {})
            node["DataPoints"] = points_by_asset[asset_path]
        value_range = {p: {"min": lo, "max": hi} for p, (lo, hi) in ranges.items()}
        return {"tree": tree, "value_range": value_range, "uuid_map": uuid_map}


def _sorted_uses(tree: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for key in sorted(tree):
        sub = tree[key]
        out.append({key: _sorted_uses(sub)} if sub else key)
    return out


def draft(
    csv_path: str | os.PathLike[str],
    *,
    name_style: str = "keep",
    asset_library: str | None = None,
) -> DraftResult:
    """Scenario, uses and reference drafts of a snapshot CSV; InputError names the file and line of bad input."""
    parsed = _Draft(csv_path, name_style)
    scenario = parsed.scenario()
    if asset_library:
        if os.sep in asset_library or "/" in asset_library:
            library = Path(asset_library)
            scenario["$asset_library_name"] = library.name
            scenario["$asset_library_path"] = str(library.parent)
        else:
            scenario["$asset_library_name"] = asset_library
    return DraftResult(scenario=scenario, uses=parsed.uses(), reference=parsed.reference())


def dump_yaml(obj: Any) -> str:
    """YAML text of a draft, keys sorted like upstream's yaml.dump (so `$…` keys come first), unicode kept."""
    return yaml.safe_dump(obj, sort_keys=True, allow_unicode=True, default_flow_style=False)

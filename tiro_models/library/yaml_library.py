"""The declarative YAML asset library: asset types and their data points, with inheritance, and no Python.

Format (top-level keys are asset type names; keys starting with `$` are reserved and ignored)::

    Server:
      description: A rack server          # optional
      extends: Base                        # optional: one base or a list, later bases win, own points win over all
      points:
        CPUTemperature:
          category: Telemetry              # Telemetry (default) or Attribute
          type: float                      # float (default), int, str, bool, enum
          ge: 0                            # optional bounds: ge, le, gt, lt (float and int only)
          le: 100
          unit: "°C"
          default: 20                      # optional; null is a valid default
          description: CPU die temperature
          decimals: 1                      # mock floats are rounded to this many digits (default 2)
          time_var: 30                     # seconds mock timestamps may lie in the past (default 0)
        State: {category: Attribute, type: enum, choices: [running, stopped]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import LibraryError
from ..spec import ATTRIBUTE, NO_DEFAULT, TELEMETRY, PointDef, Source
from ..yaml_io import key_line, load_yaml_file, node_line
from .asset_type import AssetLibrary, AssetType

_TYPE_ALIASES = {
    "float": "float",
    "number": "float",
    "int": "int",
    "integer": "int",
    "str": "str",
    "string": "str",
    "bool": "bool",
    "boolean": "bool",
    "enum": "enum",
}
_POINT_KEYS = {
    "category",
    "type",
    "ge",
    "le",
    "gt",
    "lt",
    "choices",
    "unit",
    "default",
    "description",
    "decimals",
    "time_var",
}
_TYPE_KEYS = {"description", "extends", "points"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class YamlLibrary(AssetLibrary):
    """An asset library read from a declarative YAML file."""

    def __init__(self, name: str, location: Path) -> None:
        self.name = name
        self.origin = str(location)
        self._doc = load_yaml_file(location, LibraryError)
        if self._doc is None:
            self._doc = {}
        if not isinstance(self._doc, dict):
            raise LibraryError(
                "a YAML asset library must be a mapping of asset type names", self.origin, node_line(self._doc) or 1
            )
        self._types: dict[str, AssetType] = {}
        self._resolving: set[str] = set()

    def type_names(self) -> list[str]:
        """Every asset type the file defines."""
        return sorted(str(key) for key in self._doc if not str(key).startswith("$"))

    def resolve(self, type_name: str) -> AssetType:
        """The asset type named `type_name`, its bases' points merged in."""
        cached = self._types.get(type_name)
        if cached is not None:
            return cached
        if type_name.startswith("$") or type_name not in self._doc:
            hint = ", ".join(self.type_names()) or "none"
            raise LookupError(f"unknown type {type_name!r}: asset library {self.name!r} ({self.origin}) defines {hint}")
        return self._build(type_name)

    def _error(self, message: str, node: Any, key: Any = None) -> LibraryError:
        line = key_line(node, key) if key is not None else node_line(node)
        return LibraryError(message, self.origin, line)

    def _build(self, type_name: str) -> AssetType:
        body = self._doc[type_name]
        where = Source(self.origin, key_line(self._doc, type_name))
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise self._error(f"asset type {type_name}: expected a mapping with `points`", self._doc, type_name)
        for key in body:
            if key not in _TYPE_KEYS:
                raise self._error(
                    f"asset type {type_name}: unknown key {key!r} (expected one of {sorted(_TYPE_KEYS)})", body, key
                )
        if type_name in self._resolving:
            raise self._error(f"asset type {type_name}: `extends` forms a cycle", body, "extends")
        self._resolving.add(type_name)
        try:
            points: dict[str, PointDef] = {}
            for base in self._bases(type_name, body):
                try:
                    points.update(self.resolve(base).points)
                except LookupError as exc:
                    raise self._error(f"asset type {type_name}: extends {exc}", body, "extends") from None
            own = body.get("points") or {}
            if not isinstance(own, dict):
                raise self._error(f"asset type {type_name}: `points` must be a mapping of point names", body, "points")
            for name, spec in own.items():
                points[str(name)] = self._point(type_name, str(name), spec, own)
        finally:
            self._resolving.discard(type_name)
        result = AssetType(type_name, points, {}, where)
        self._types[type_name] = result
        return result

    def _bases(self, type_name: str, body: dict) -> list[str]:
        bases = body.get("extends")
        if bases is None:
            return []
        if isinstance(bases, str):
            return [bases]
        if isinstance(bases, list) and all(isinstance(base, str) for base in bases):
            return list(bases)
        raise self._error(f"asset type {type_name}: `extends` must be a type name or a list of them", body, "extends")

    def _point(self, type_name: str, name: str, spec: Any, parent: dict) -> PointDef:
        label = f"{type_name}.{name}"
        if "." in name or not name:
            raise self._error(f"{label}: a data-point name must be non-empty and contain no '.'", parent, name)
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise self._error(f"{label}: expected a mapping of point settings", parent, name)
        for key in spec:
            if key not in _POINT_KEYS:
                raise self._error(
                    f"{label}: unknown setting {key!r} (expected one of {sorted(_POINT_KEYS)})", spec, key
                )
        category = spec.get("category", TELEMETRY)
        if category not in (TELEMETRY, ATTRIBUTE):
            raise self._error(f"{label}: category must be Telemetry or Attribute, not {category!r}", spec, "category")
        kind = _TYPE_ALIASES.get(spec.get("type", "float")) if isinstance(spec.get("type", "float"), str) else None
        if kind is None:
            raise self._error(
                f"{label}: type must be one of float, int, str, bool, enum, not {spec.get('type')!r}", spec, "type"
            )
        bounds: dict[str, Any] = {}
        for key in ("ge", "le", "gt", "lt"):
            if key in spec:
                if kind not in ("float", "int"):
                    raise self._error(f"{label}: {key} applies to float and int points only", spec, key)
                if not _is_number(spec[key]):
                    raise self._error(f"{label}: {key} must be a number, not {spec[key]!r}", spec, key)
                bounds[key] = spec[key]
        choices = spec.get("choices")
        if kind == "enum":
            if not isinstance(choices, list) or not choices:
                raise self._error(
                    f"{label}: an enum needs a non-empty list of `choices`",
                    spec,
                    "choices" if "choices" in spec else "type",
                )
            choices = tuple(choices)
        elif choices is not None:
            raise self._error(f"{label}: `choices` applies to enum points only", spec, "choices")
        decimals = spec.get("decimals", 2)
        if not isinstance(decimals, int) or isinstance(decimals, bool) or decimals < 0:
            raise self._error(f"{label}: decimals must be a non-negative integer", spec, "decimals")
        time_var = spec.get("time_var", 0)
        if not _is_number(time_var) or time_var < 0:
            raise self._error(f"{label}: time_var must be a non-negative number of seconds", spec, "time_var")
        unit = spec.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise self._error(f"{label}: unit must be a string", spec, "unit")
        description = spec.get("description")
        if description is not None and not isinstance(description, str):
            raise self._error(f"{label}: description must be a string", spec, "description")
        return PointDef(
            name=name,
            category=category,
            kind=kind,
            choices=choices,
            unit=unit,
            default=spec.get("default", NO_DEFAULT),
            description=description,
            time_var=float(time_var),
            decimals=decimals,
            source=Source(self.origin, key_line(parent, name)),
            **bounds,
        )

"""JSON Schema (2020-12) of the data a model requires, in the nested snapshot form, with units and descriptions."""

from __future__ import annotations

from typing import Any

from tiro_models.spec import CATEGORIES, Model, PointSpec, SlotSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_TIMESTAMP = {"type": "string", "format": "date-time", "description": "ISO 8601 time of the value"}


def json_schema(model: Model, *, require_all_children: bool = True, title: str = "Scenario") -> dict[str, Any]:
    """The JSON Schema of a snapshot of `model`; `$defs` are named by type path (slot, category, point)."""
    defs: dict[str, Any] = {}
    builder = _SchemaBuilder(defs, require_all_children)
    properties = {name: builder.slot_map(slot) for name, slot in model.roots.items()}
    required = [name for name, slot in model.roots.items() if builder.slot_required(slot)]
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "$defs": defs,
    }
    if model.scenario_file:
        schema["description"] = f"Data required by {model.scenario_file}"
    return schema


def value_schema(spec: PointSpec) -> dict[str, Any]:
    """The schema of a point's `value`: typed and ranged from its kind and constraints."""
    d = spec.definition
    if d.kind in ("float", "int"):
        out: dict[str, Any] = {"type": "number" if d.kind == "float" else "integer"}
        for keyword, limit in (
            ("minimum", d.ge),
            ("maximum", d.le),
            ("exclusiveMinimum", d.gt),
            ("exclusiveMaximum", d.lt),
        ):
            if limit is not None:
                out[keyword] = limit
        return out
    if d.kind == "bool":
        return {"type": "boolean"}
    if d.kind == "str":
        return {"type": "string"}
    if d.kind == "enum":
        return {"enum": list(d.choices or ())}
    if d.py_type is None:
        return {}
    try:
        from pydantic import TypeAdapter

        return TypeAdapter(d.py_type).json_schema(ref_template="#/$defs/{model}")
    except Exception:
        return {}  # an annotation pydantic cannot describe: accept any value rather than fail the whole schema


class _SchemaBuilder:
    """Fills `$defs` while walking the slot tree."""

    def __init__(self, defs: dict[str, Any], require_all_children: bool) -> None:
        self.defs = defs
        self.require_all_children = require_all_children

    def slot_required(self, slot: SlotSpec) -> bool:
        """Whether a child slot must be present (upstream rules; a `$number` minimum of 0 is never required)."""
        if slot.number[0] < 1:
            return False
        return self.require_all_children or _has_required(slot)

    def slot_map(self, slot: SlotSpec) -> dict[str, Any]:
        """`{id: entity}` for one slot: any id, or only the `$ids`."""
        ref = {"$ref": f"#/$defs/{self.entity(slot)}"}
        out: dict[str, Any] = {"type": "object", "title": slot.name}
        if slot.ids is not None:
            out["propertyNames"] = {"enum": list(slot.ids)}
        out["additionalProperties"] = ref
        return out

    def entity(self, slot: SlotSpec) -> str:
        """Define one asset of a slot; returns its `$defs` name (the slot's type path)."""
        name = slot.type_path
        properties: dict[str, Any] = {}
        required: list[str] = []
        for category in CATEGORIES:
            points = [p for p in slot.points.values() if p.category == category]
            if not points:
                continue
            properties[category] = {"$ref": f"#/$defs/{self.category(slot, category, points)}"}
            if any(not p.has_default for p in points):
                required.append(category)
        for child_name, child in slot.children.items():
            properties[child_name] = self.slot_map(child)
            if self.slot_required(child):
                required.append(child_name)
        entity: dict[str, Any] = {"type": "object", "title": slot.name, "properties": properties, "required": required}
        types = ", ".join(slot.asset_types)
        entity["description"] = f"An asset of slot {slot.type_path} (type {types})"
        self.defs[name] = entity
        return name

    def category(self, slot: SlotSpec, category: str, points: list[PointSpec]) -> str:
        """Define one category object of a slot; returns its `$defs` name."""
        name = f"{slot.type_path}.{category}"
        self.defs[name] = {
            "type": "object",
            "title": category,
            "properties": {p.name: {"$ref": f"#/$defs/{self.point(p)}"} for p in points},
            "required": [p.name for p in points if not p.has_default],
        }
        return name

    def point(self, spec: PointSpec) -> str:
        """Define one data point `{value, timestamp, unit?}`; returns its `$defs` name (the point's type path)."""
        value = value_schema(spec)
        nested = value.pop("$defs", None)
        if nested:
            self.defs.update(nested)
        properties: dict[str, Any] = {"value": value, "timestamp": dict(_TIMESTAMP)}
        if spec.unit is not None:
            properties["unit"] = {"const": spec.unit}
        out: dict[str, Any] = {
            "type": "object",
            "title": spec.name,
            "properties": properties,
            "required": ["value", "timestamp"],
            "unit": spec.unit,
            "description": spec.definition.description or f"{spec.category} {spec.name} of {spec.slot_path}",
        }
        if spec.has_default:
            out["default"] = {"value": spec.default}
        self.defs[spec.type_path] = out
        return spec.type_path


def _has_required(slot: SlotSpec) -> bool:
    """True when the slot's subtree holds a point without a default (in a slot with a `$number` minimum ≥ 1)."""
    if any(not p.has_default for p in slot.points.values()):
        return True
    return any(child.number[0] >= 1 and _has_required(child) for child in slot.children.values())

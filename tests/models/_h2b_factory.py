"""Builds compiled `Model` objects by hand for the instances / schema / mock / validate tests."""

from __future__ import annotations

from typing import Any

from tiro_models.spec import NO_DEFAULT, Model, PointDef, PointSpec, SlotSpec


def point(category: str = "Telemetry", kind: str = "float", **kwargs: Any) -> dict[str, Any]:
    """Keyword arguments of one PointDef (name is added by `make_model`)."""
    return {"category": category, "kind": kind, **kwargs}


def make_model(tree: dict[str, dict[str, Any]]) -> Model:
    """A Model from `{Slot: {"number": (lo, hi), "ids": [...], "points": {name: point(...)}, "defaults": {...},
    "children": {...}}}`."""
    points: dict[str, PointSpec] = {}
    slots: dict[str, SlotSpec] = {}

    def build(name: str, spec: dict[str, Any], parent: str) -> SlotSpec:
        type_path = f"{parent}.{name}" if parent else name
        defaults = spec.get("defaults", {})
        slot = SlotSpec(
            name=name,
            type_path=type_path,
            asset_types=(spec.get("type", name),),
            number=tuple(spec.get("number", (1, 1))),
            ids=tuple(spec["ids"]) if "ids" in spec else None,
        )
        slots[type_path] = slot
        for point_name, kwargs in spec.get("points", {}).items():
            definition = PointDef(name=point_name, **kwargs)
            default = defaults.get(point_name, definition.default)
            point_spec = PointSpec(
                type_path=f"{type_path}.{point_name}",
                slot_path=type_path,
                definition=definition,
                default=default if default is not NO_DEFAULT else NO_DEFAULT,
            )
            slot.points[point_name] = point_spec
            slot.known_points[point_name] = definition
            points[point_spec.type_path] = point_spec
        for extra_name, kwargs in spec.get("known", {}).items():
            slot.known_points[extra_name] = PointDef(name=extra_name, **kwargs)
        for child_name, child in spec.get("children", {}).items():
            slot.children[child_name] = build(child_name, child, type_path)
        return slot

    roots = {name: build(name, spec, "") for name, spec in tree.items()}
    return Model(roots=roots, points=points, slots=slots, uses=tuple(points))


def ranged(lo: float = 0, hi: float = 1000, unit: str | None = "W", **kwargs: Any) -> dict[str, Any]:
    """A ranged float telemetry point."""
    return point("Telemetry", "float", ge=lo, le=hi, unit=unit, **kwargs)


def datahall(srv1: bool = True, srv2: bool = True, server_number: tuple[int, int] = (2, 5)) -> Model:
    """The upstream example scenario (DataHall → Rack(2) → Server(2-5), CRAC(1)) for use-srv1 and/or use-srv2."""
    crac: dict[str, Any] = {}
    rack: dict[str, Any] = {}
    if srv1:
        crac["ActivePower"] = ranged(unit="W")
        rack["ActivePower"] = ranged(unit="W")
    if srv2:
        crac["SupplyTemperature"] = ranged(0, 50, "°C")
        crac["ReturnTemperature"] = ranged(0, 50, "°C")
    rack_spec: dict[str, Any] = {"number": (2, 2), "points": rack}
    if srv2:
        rack_spec["children"] = {"Server": {"number": server_number, "points": {"FlowRate": ranged(0, 1000, "L/s")}}}
    hall_children: dict[str, Any] = {}
    # Children appear in the order the uses first mention them: srv1 names CRAC first, srv2 names Rack first.
    if srv1:
        hall_children["CRAC"] = {"points": crac}
        hall_children["Rack"] = rack_spec
    else:
        hall_children["Rack"] = rack_spec
        hall_children["CRAC"] = {"points": crac}
    return make_model({"DataHall": {"children": hall_children}})

"""Synthetic compiled models for the benchmarks: a Site → Hall → Rack → Server tree of any size."""

from __future__ import annotations

from tiro_models.spec import Model, PointDef, PointSpec, SlotSpec


def _slot(name: str, parent: str, number: int, points: list[PointDef]) -> SlotSpec:
    type_path = f"{parent}.{name}" if parent else name
    slot = SlotSpec(name=name, type_path=type_path, asset_types=(name,), number=(number, number))
    for definition in points:
        slot.points[definition.name] = PointSpec(f"{type_path}.{definition.name}", type_path, definition)
        slot.known_points[definition.name] = definition
    return slot


def _points(prefix: str, n: int, time_var: float = 0.0) -> list[PointDef]:
    """n points: mostly ranged floats, some ints, a bool and a string attribute (mock timestamps up to `time_var`
    seconds in the past)."""
    out: list[PointDef] = []
    for i in range(n):
        if i % 10 == 7:
            out.append(PointDef(f"{prefix}Count{i}", "Telemetry", "int", ge=0, le=10000, unit="rpm", time_var=time_var))
        elif i % 10 == 8:
            out.append(PointDef(f"{prefix}On{i}", "Telemetry", "bool", time_var=time_var))
        elif i % 10 == 9:
            out.append(PointDef(f"{prefix}Model{i}", "Attribute", "str", time_var=time_var))
        else:
            out.append(
                PointDef(f"{prefix}Temperature{i}", "Telemetry", "float", ge=0, le=50, unit="°C", time_var=time_var)
            )
    return out


def synthetic_model(halls: int, racks: int, servers: int, server_points: int = 10, time_var: float = 0.0) -> Model:
    """A model with halls × racks × servers servers of `server_points` points (plus 2 per rack, 1 per hall); with
    `time_var`, the mock stamps each point at its own moment in the last `time_var` seconds."""
    site = _slot("Site", "", 1, _points("Site", 1, time_var))
    hall = _slot("Hall", "Site", halls, _points("Hall", 1, time_var))
    rack = _slot("Rack", "Site.Hall", racks, _points("Rack", 2, time_var))
    server = _slot("Server", "Site.Hall.Rack", servers, _points("Server", server_points, time_var))
    site.children["Hall"] = hall
    hall.children["Rack"] = rack
    rack.children["Server"] = server
    slots = {s.type_path: s for s in (site, hall, rack, server)}
    points = {p.type_path: p for s in slots.values() for p in s.points.values()}
    return Model(roots={"Site": site}, points=points, slots=slots, uses=tuple(points))


def point_count(halls: int, racks: int, servers: int, server_points: int = 10) -> int:
    """How many required data points `synthetic_model` gives."""
    return 1 + halls * (1 + racks * (2 + servers * server_points))

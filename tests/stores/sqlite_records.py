"""Records and readings shared by the sqlite store tests: one CRAC and one server of the datahall example."""

from __future__ import annotations

from tiro.stores.sqlite.graph import SqliteGraphStore
from tiro_models.records import decompose_point

T0 = 1_800_000_000.0
HALL = "DataHall.data_hall_0"
CRAC = f"{HALL}.CRAC.crac_0"
SERVER = f"{HALL}.Rack.rack_0.Server.server_0"


def rec(name: str, value, ts, unit=None, asset=CRAC, category="Telemetry") -> dict:
    """The flat record of one sample of the data point `asset.category.name`."""
    dp = {"value": value, "timestamp": ts}
    if unit is not None:
        dp["unit"] = unit
    return decompose_point(f"{asset}.{category}.{name}", dp)


def values(graph: SqliteGraphStore) -> dict[str, tuple]:
    """Data-point name -> (value, timestamp, unit) of every latest value in the graph."""
    return {path.rsplit(".", 1)[1]: (s.value, s.timestamp, s.unit) for path, s in graph.latest().items()}

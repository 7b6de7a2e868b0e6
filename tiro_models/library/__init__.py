"""Asset libraries: the Tiro 0.13 Python API (Entity, Telemetry, ...), its loader, and the declarative YAML form."""

from .asset_type import AssetLibrary, AssetType, ChildDecl
from .python_api import Alias, Attribute, DataPointInfo, Entity, EntityList, Telemetry
from .resolve import clear_library_cache, open_library
from .units import RangedFloatTelemetry, RangedIntTelemetry, Unit, default_faker

__all__ = [
    "Alias",
    "AssetLibrary",
    "AssetType",
    "Attribute",
    "ChildDecl",
    "DataPointInfo",
    "Entity",
    "EntityList",
    "RangedFloatTelemetry",
    "RangedIntTelemetry",
    "Telemetry",
    "Unit",
    "clear_library_cache",
    "default_faker",
    "open_library",
]

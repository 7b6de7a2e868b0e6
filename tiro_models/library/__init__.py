"""Asset libraries: the Tiro 0.13 Python API (Entity, Telemetry, ...), its loader, and the declarative YAML form."""

from .asset_type import AssetLibrary, AssetType, ChildDecl
from .python_api import Alias, Attribute, DataPointInfo, Entity, EntityList, Telemetry
from .python_library import PythonLibrary, library_from_classes
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
    "PythonLibrary",
    "RangedFloatTelemetry",
    "RangedIntTelemetry",
    "Telemetry",
    "Unit",
    "clear_library_cache",
    "default_faker",
    "library_from_classes",
    "open_library",
]

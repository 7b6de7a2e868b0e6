"""Tiro 0.13 compatibility: the data-point declarations asset libraries import from `tiro.core.model`."""

from tiro_models.library.python_api import Alias, Attribute, DataPointInfo, Entity, EntityList, Telemetry

__all__ = ["Alias", "Attribute", "DataPointInfo", "Entity", "EntityList", "Telemetry"]

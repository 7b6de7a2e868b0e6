"""Tiro 0.13 compatibility: `tiro.utils` unit constants and ranged telemetry helpers."""

from tiro_models.library.units import RangedFloatTelemetry, RangedIntTelemetry, Unit, default_faker

__all__ = ["RangedFloatTelemetry", "RangedIntTelemetry", "Unit", "default_faker"]

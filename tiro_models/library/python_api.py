"""The Tiro 0.13 asset-library API (Entity, Telemetry, Attribute, Alias, EntityList) that Python libraries subclass.

These classes only record declarations; `python_library` turns them into `AssetType`s. Nothing here is mutated
by scenario loading, so `$defaults` of one slot can never leak into another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any


class DataPointInfo:
    """A data-point declaration: value type, unit, optional faker, mock time spread and default."""

    def __init__(
        self,
        type: Any,
        unit: str | None = None,
        faker: Callable[[], Any] | None = None,
        time_var: timedelta | float | int | None = timedelta(0),
        default: Any = None,
        *,
        description: str | None = None,
        decimals: int | None = None,
    ) -> None:
        self.type = type
        self.unit = unit
        self.faker = faker
        self.time_var = time_var
        self.default = default
        self.description = description
        self.decimals = decimals

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.type!r}, unit={self.unit!r})"


class Telemetry(DataPointInfo):
    """A data point whose value changes over time (category `Telemetry`)."""


class Attribute(DataPointInfo):
    """A data point whose value seldom changes (category `Attribute`)."""


class Alias:
    """Declares a second name for another data point of the same asset type."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Alias({self.name!r})"


class EntityList:
    """Declares a child slot inside an asset class: the child class, its count per parent and its ids."""

    def __init__(
        self,
        cls: type[Entity],
        faking_number: int | str | Callable[[], int] | None = None,
        ids: list[Any] | tuple[Any, ...] | None = None,
    ) -> None:
        self.cls = cls
        self.faking_number = faking_number
        self.ids = list(ids) if ids is not None else None
        if isinstance(faking_number, int) and self.ids is not None and faking_number > len(self.ids):
            raise ValueError(f"faking_number {faking_number} must be at most the number of ids ({len(self.ids)})")

    def __repr__(self) -> str:
        return f"EntityList({self.cls.__name__}, faking_number={self.faking_number!r}, ids={self.ids!r})"


class Entity:
    """Base class of an asset type: annotate data points (`Name: Telemetry(...)`) and children in the class body."""

    @classmethod
    def many(
        cls,
        faking_number: int | str | Callable[[], int] | None = None,
        ids: list[Any] | tuple[Any, ...] | None = None,
    ) -> EntityList:
        """A child-slot declaration of this class (same as `EntityList(cls, ...)`)."""
        return EntityList(cls, faking_number=faking_number, ids=ids)

    @classmethod
    def update_defaults(cls, **defaults: Any) -> None:
        """Set default values for data points of this class and its subclasses (not of its bases or siblings)."""
        own = dict(cls.__dict__.get("__tiro_defaults__", {}))
        own.update(defaults)
        cls.__tiro_defaults__ = own  # type: ignore[attr-defined]

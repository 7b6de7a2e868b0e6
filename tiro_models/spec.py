"""The compiled model's data types: point and slot specifications, the type-level model and its instances."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

TELEMETRY = "Telemetry"
ATTRIBUTE = "Attribute"
CATEGORIES = (TELEMETRY, ATTRIBUTE)

PATH_SEP = "."


class _NoDefault:
    """Sentinel type: the data point has no default value (None is a valid default)."""

    _instance: _NoDefault | None = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()

# Value kinds a point can have. "any" keeps an arbitrary pydantic type and validates through a TypeAdapter.
KINDS = ("float", "int", "str", "bool", "enum", "any")


@dataclass(frozen=True, slots=True)
class Source:
    """Where something was declared: file and 1-based line (either may be unknown)."""

    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file is None:
            return "<unknown>"
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True, slots=True)
class PointDef:
    """A data point as an asset type declares it in a library (no slot, no scenario)."""

    name: str
    category: str  # TELEMETRY or ATTRIBUTE
    kind: str = "any"  # one of KINDS
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None  # allowed values for kind "enum"
    unit: str | None = None
    default: Any = NO_DEFAULT
    description: str | None = None
    faker: Callable[[], Any] | None = None
    time_var: float = 0.0  # seconds mock timestamps may lie in the past
    decimals: int = 2  # mock floats are rounded to this many digits
    py_type: Any = None  # original pydantic annotation, used by kind "any"
    source: Source = field(default_factory=Source)

    @property
    def has_default(self) -> bool:
        """True when the point declares a default value (None counts)."""
        return self.default is not NO_DEFAULT


@dataclass(frozen=True, slots=True)
class PointSpec:
    """A required data point in one scenario slot: its definition plus its type path and slot-scoped default."""

    type_path: str  # e.g. "DataHall.CRAC.ReturnTemperature"
    slot_path: str  # e.g. "DataHall.CRAC"
    definition: PointDef
    default: Any = NO_DEFAULT  # after the slot's $defaults were applied

    @property
    def name(self) -> str:
        """The data point's name (last segment of the type path)."""
        return self.definition.name

    @property
    def category(self) -> str:
        """TELEMETRY or ATTRIBUTE."""
        return self.definition.category

    @property
    def unit(self) -> str | None:
        """The unit string, or None."""
        return self.definition.unit

    @property
    def has_default(self) -> bool:
        """True when this slot gives the point a default value."""
        return self.default is not NO_DEFAULT


@dataclass(slots=True)
class SlotSpec:
    """A child slot of the scenario tree (a YAML key such as `Rack`), restricted to what the uses require."""

    name: str  # the slot key, which is what appears in paths
    type_path: str  # slot names from the root, e.g. "DataHall.Rack"
    asset_types: tuple[str, ...]  # library type names ($type), one or more bases
    number: tuple[int, int] = (1, 1)  # inclusive min/max instances per parent instance
    ids: tuple[str, ...] | None = None  # $ids: allowed/predefined instance ids
    points: dict[str, PointSpec] = field(default_factory=dict)  # required points, by name, in uses order
    children: dict[str, SlotSpec] = field(default_factory=dict)  # required child slots, in uses order
    known_points: dict[str, PointDef] = field(default_factory=dict)  # every point the asset type declares
    source: Source = field(default_factory=Source)

    def walk(self) -> Iterator[SlotSpec]:
        """This slot and all its descendants, depth first in child order."""
        yield self
        for child in self.children.values():
            yield from child.walk()


@dataclass(slots=True)
class Model:
    """The type-level compiled model: the required slot tree and a flat table of required points by type path."""

    roots: dict[str, SlotSpec]  # top-level slots
    points: dict[str, PointSpec]  # type path -> spec, every required point
    slots: dict[str, SlotSpec]  # slot type path -> spec, every required slot
    uses: tuple[str, ...] = ()  # the raw required type paths, in the order the uses gave them
    scenario_file: str | None = None

    def walk(self) -> Iterator[SlotSpec]:
        """Every required slot, depth first."""
        for root in self.roots.values():
            yield from root.walk()


@dataclass(frozen=True, slots=True)
class Asset:
    """One asset instance: its full path (`DataHall.data_hall_0.Rack.rack_1`), id and slot."""

    path: str
    id: str
    slot: SlotSpec
    parent: str  # parent asset path, "" for top-level assets


@dataclass(slots=True)
class Instances:
    """The instance-level flat tables: every asset and every required data-point path with its spec."""

    model: Model
    assets: list[Asset]  # depth first, parents before children
    points: dict[str, PointSpec]  # data-point path -> spec

    def asset_count(self) -> int:
        """How many asset instances there are."""
        return len(self.assets)

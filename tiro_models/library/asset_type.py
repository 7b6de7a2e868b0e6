"""What every asset library provides, whatever its form: asset types with their data points and declared children."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..spec import PointDef, Source


@dataclass(frozen=True, slots=True)
class ChildDecl:
    """A child slot an asset type declares itself (Python `EntityList`), used when the scenario does not name it."""

    name: str
    types: tuple[AssetType, ...]
    number: tuple[int, int] = (1, 1)
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class AssetType:
    """An asset type: its name, every data point it declares (inherited ones merged) and its declared children."""

    name: str
    points: dict[str, PointDef]
    children: dict[str, ChildDecl] = field(default_factory=dict)
    source: Source = field(default_factory=Source)


class AssetLibrary:
    """A loaded asset library: resolves `$type` names to asset types."""

    name: str
    origin: str  # the file or package directory it was loaded from

    def resolve(self, type_name: str) -> AssetType:
        """The asset type named `type_name`; LookupError (message naming the library) when there is none."""
        raise NotImplementedError

    def type_names(self) -> list[str]:
        """The names of the asset types the library defines at its top level (for hints in error messages)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.origin!r})"

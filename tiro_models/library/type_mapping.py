"""Map a pydantic v2 annotation (confloat, conint, Annotated[..., Field(...)], Literal, Enum, ...) to a point kind."""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo


@dataclass(frozen=True, slots=True)
class TypeFacts:
    """The kind and numeric bounds/choices read from an annotation."""

    kind: str
    ge: Any = None
    le: Any = None
    gt: Any = None
    lt: Any = None
    choices: tuple[Any, ...] | None = None


_SIMPLE = {float: "float", int: "int", str: "str", bool: "bool"}
_BOUNDS = (annotated_types.Ge, annotated_types.Le, annotated_types.Gt, annotated_types.Lt)


def _bounds(metadata: typing.Iterable[Any], into: dict[str, Any]) -> None:
    for item in metadata:
        if item is None:
            continue
        if isinstance(item, FieldInfo):
            _bounds(item.metadata, into)
        elif isinstance(item, _BOUNDS):
            attr = type(item).__name__.lower()
            into[attr] = getattr(item, attr)
        elif isinstance(item, annotated_types.GroupedMetadata):
            _bounds(iter(item), into)


def describe_type(annotation: Any) -> TypeFacts:
    """Kind ("float", "int", "str", "bool", "enum" or "any") and bounds of a data point's value type."""
    bounds: dict[str, Any] = {}
    base = annotation
    while typing.get_origin(base) is typing.Annotated:
        args = typing.get_args(base)
        base = args[0]
        _bounds(args[1:], bounds)
    if typing.get_origin(base) is typing.Literal:
        return TypeFacts("enum", choices=tuple(typing.get_args(base)))
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return TypeFacts("enum", choices=tuple(member.value for member in base))
    kind = _SIMPLE.get(base) if isinstance(base, type) else None
    if kind is None:
        return TypeFacts("any")
    if kind in ("float", "int"):
        return TypeFacts(kind, **bounds)
    return TypeFacts(kind)

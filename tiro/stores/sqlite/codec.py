"""How a sample's value is kept in a sqlite column: int, float and str natively, anything else with a kind tag."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["INT64", "decode_value", "encode_value"]

INT64 = (-(2**63), 2**63 - 1)  # what sqlite keeps as an integer

_BOOL = "b"
_BIG_INT = "i"  # beyond sqlite's 64-bit integers: kept as decimal text
_JSON = "j"


def encode_value(value: Any) -> tuple[Any, str | None]:
    """(column value, kind tag): native types untagged; bools as 0/1 "b", huge ints as text "i", others as JSON "j"."""
    cls = type(value)
    if cls is float or cls is str or value is None:
        return value, None
    if cls is int:
        if INT64[0] <= value <= INT64[1]:
            return value, None
        return str(value), _BIG_INT
    if cls is bool:
        return int(value), _BOOL
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS).decode(), _JSON
    except TypeError:
        return orjson.dumps(str(value)).decode(), _JSON


def decode_value(value: Any, kind: str | None) -> Any:
    """The Python value of a stored (column value, kind tag) pair."""
    if kind is None:
        return value
    if kind == _BOOL:
        return bool(value)
    if kind == _BIG_INT:
        return int(value)
    return orjson.loads(value)

"""Wire encoding: orjson out (NaN/Infinity become null), tolerant JSON in, `_as_is` raw passthrough."""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_AS_IS_KEY = b'"_as_is"'


def _fallback(value: Any) -> Any:
    # Decimals, sets, custom objects: degrade to text rather than losing the message
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(obj: Any) -> bytes:
    """JSON bytes; NaN and ±Infinity are written as null because strict consumers (Telegraf) reject them. An integer
    beyond 64 bits, which orjson cannot write, sends the whole object through the standard library's encoder."""
    try:
        return orjson.dumps(obj, default=_fallback, option=_OPTS)
    except TypeError:  # the only value orjson refuses that `_fallback` does not turn into text
        return json.dumps(obj, default=_fallback, ensure_ascii=False).encode()


def loads(data: bytes | str) -> Any:
    """Parse JSON, also what Python's json.dumps produced (bare NaN/Infinity tokens)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def encode_payload(payload: Any) -> bytes:
    """Upstream publish body: `_as_is` value verbatim (str) or as JSON; otherwise the JSON object itself."""
    if isinstance(payload, dict) and "_as_is" in payload:
        raw = payload["_as_is"]
        return raw.encode() if isinstance(raw, str) else dumps(raw)
    if isinstance(payload, str):
        return payload.encode()
    return dumps(payload)


def encode_batch(payloads: list[Any]) -> bytes:
    """Batch body: raw lines joined by newline when every item is `_as_is` text, else a JSON array."""
    if payloads and all(isinstance(p, dict) and isinstance(p.get("_as_is"), str) for p in payloads):
        return "\n".join(p["_as_is"] for p in payloads).encode()
    body = dumps(payloads)
    if _AS_IS_KEY not in body:  # no item can have the key: the common case needs no per-item pass
        return body
    return dumps([p["_as_is"] if isinstance(p, dict) and "_as_is" in p else p for p in payloads])


def split_items(decoded: Any) -> list[Any]:
    """A message carries one item (object) or a batch (array)."""
    return decoded if isinstance(decoded, list) else [decoded]

"""Frames: many samples in one item, as columns, with the routing meta once.

A frame is a JSON object, so routing, meta renames, fused chains and durable delivery treat it as one item:

    {"_karez": {...meta...}, "_frame": {"v": 1, "schema": "<name>"}, "columns": {"<column>": [...], ...}}

Every column has one entry per row. A frame's schema names what its rows are and how to turn them back into the
per-item objects of the upstream wire format (`FrameSchema.rows`): roles that do not take frames get those, so frames
stay invisible to them. Schemas come from plugins, registered with `register_schema` or found by name under the
`karez.frame_schemas` entry-point group. Columns are never edited in place: a role that changes a column builds a new
list, so the copies of a fanned-out frame stay independent.

On the wire a role with `frames` publishes a subject's frames in one message whose `Karez-Encoding` header names
the body's encoding: `frames/1+msgpack` (compact, the default) or `frames/1+json` (readable in `nats sub`). A message
without the header is JSON as before (a frame in it must come first); a receiver refuses an encoding or frame version
it does not know with an error that says which, instead of guessing.

Series ids: a frame may carry a `series` column of integers with a `model` name in its header (the fingerprint of the
table the ids index). Under one model, rows with the same id are of the same series: every column but the value and
the timestamp is the same. Receivers use the ids as cheap keys of their per-series work (line heads, store ids);
the other columns still travel, so a receiver without that model reads the rows as they are.

Shared columns: since those other columns are the same whenever the ids are, a durable publisher puts them once in a
JetStream key-value bucket and sends frames whose header names the entry (`shared`) instead of carrying them
(karez.shared_columns). A receiver fetches the entry once and puts the columns back before any role sees the frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import msgspec

from karez import codec
from karez.errors import DataError
from karez.routing import META_KEY

FRAME_KEY = "_frame"
COLUMNS_KEY = "columns"
VERSION = 1
ENCODING_HEADER = "Karez-Encoding"
COMPACT = f"frames/{VERSION}+msgpack"
READABLE = f"frames/{VERSION}+json"
ENCODINGS = (COMPACT, READABLE)
SCHEMA_GROUP = "karez.frame_schemas"
SERIES_COLUMN = "series"
MODEL_KEY = "model"
SHARED_KEY = "shared"  # header: the key of the bucket entry holding the frame's per-series columns
PER_SAMPLE = frozenset(("value", "timestamp", SERIES_COLUMN))  # the columns that differ between rows of one series id
_INTS = frozenset((int,))

_msgpack_encoder = msgspec.msgpack.Encoder(enc_hook=str)  # what msgpack cannot carry degrades to text, as in JSON
_msgpack_decoder = msgspec.msgpack.Decoder()


class FrameError(DataError, ValueError):
    """A frame or frame message that cannot be read: retrying it can never help (dead-lettered when durable)."""


@dataclass(frozen=True, slots=True)
class FrameSchema:
    """What a frame's rows are: the columns every frame has, and its rows as upstream per-item objects."""

    name: str
    required: tuple[str, ...]
    rows: Callable[[dict[str, Any], Iterable[int] | None], list[dict[str, Any]]]  # (frame, row indices or all)


_schemas: dict[str, FrameSchema] = {}


def register_schema(schema: FrameSchema) -> FrameSchema:
    """Make a schema known in this process (plugins call this when imported); returns it."""
    _schemas[schema.name] = schema
    return schema


def schema_of(frame: Mapping[str, Any]) -> FrameSchema:
    """The schema of a checked frame: registered, or loaded from the `karez.frame_schemas` entry points."""
    name = frame[FRAME_KEY]["schema"]
    known = _schemas.get(name)
    if known is not None:
        return known
    for point in entry_points(group=SCHEMA_GROUP):
        if point.name == name:
            return register_schema(point.load())
    raise FrameError(f"frame schema {name!r} is not known in this process (no {SCHEMA_GROUP} entry point names it)")


def make_frame(
    schema: str, columns: dict[str, list[Any]], meta: dict[str, Any] | None = None, model: str | None = None
) -> dict[str, Any]:
    """A frame of `schema` with the given columns (equal lengths), routing meta and the model its series ids are of."""
    header: dict[str, Any] = {"v": VERSION, "schema": schema}
    if model is not None:
        header[MODEL_KEY] = model
    return {META_KEY: meta if meta is not None else {}, FRAME_KEY: header, COLUMNS_KEY: columns}


def series_ids(frame: Mapping[str, Any]) -> tuple[str, list[int]] | None:
    """(model, series id column) of a checked frame that carries ids; None for one that does not."""
    ids = frame[COLUMNS_KEY].get(SERIES_COLUMN)
    return None if ids is None else (frame[FRAME_KEY][MODEL_KEY], ids)


def are_series_ids(column: list[Any]) -> bool:
    """Whether a column holds series ids only (integers; booleans are not)."""
    return _INTS.issuperset(map(type, column))


def model_of(frame: Mapping[str, Any]) -> str | None:
    """The model a checked frame's series ids are of (None without ids)."""
    return frame[FRAME_KEY].get(MODEL_KEY) if SERIES_COLUMN in frame[COLUMNS_KEY] else None


def has_shared_columns(items: list[Any]) -> bool:
    """Whether a frame among decoded items names shared columns still to be fetched (a message's frames come first)."""
    return (
        bool(items)
        and FRAME_KEY in _first_object(items)
        and any(is_frame(item) and SHARED_KEY in item[FRAME_KEY] for item in items)
    )


def is_frame(item: Any) -> bool:
    """Whether an item is a frame (an object with the `_frame` key)."""
    return item.__class__ is dict and FRAME_KEY in item


def frame_length(frame: Mapping[str, Any]) -> int:
    """Rows of a checked frame."""
    columns = frame[COLUMNS_KEY]
    return len(next(iter(columns.values()))) if columns else 0


def count_items(items: list[Any]) -> int:
    """Items a message carries, a frame counting its rows: what `received` and `published` count."""
    if not items or FRAME_KEY not in _first_object(items):
        return len(items)
    return sum(frame_length(item) if is_frame(item) else 1 for item in items)


def count_outputs(outputs: list[tuple[str, Any]]) -> int:
    """Items in routed `(subject, item)` outputs, a frame counting its rows."""
    if not outputs or not is_frame(outputs[0][1]):
        return len(outputs)
    return sum(frame_length(item) if is_frame(item) else 1 for _, item in outputs)


def _first_object(items: list[Any]) -> Mapping[str, Any]:
    first = items[0]
    return first if first.__class__ is dict else {}


def check_frame(item: dict[str, Any]) -> None:
    """FrameError naming what is wrong with a frame (version, schema, columns, their lengths)."""
    header = item.get(FRAME_KEY)
    if header.__class__ is not dict:
        raise FrameError(f"frame header {FRAME_KEY!r} is a {type(header).__name__}, not an object")
    if header.get("v") != VERSION:
        raise FrameError(f"frame version {header.get('v')!r} is not supported (this karez reads version {VERSION})")
    schema = header.get("schema")
    if schema.__class__ is not str:
        raise FrameError(f"frame schema is {schema!r}, not a name")
    columns = item.get(COLUMNS_KEY)
    if columns.__class__ is not dict:
        raise FrameError(f"frame of {schema} has no {COLUMNS_KEY!r} object")
    meta = item.get(META_KEY)
    if meta is not None and meta.__class__ is not dict:
        raise FrameError(f"frame of {schema}: meta {META_KEY!r} is a {type(meta).__name__}, not an object")
    lengths = set()
    for name, column in columns.items():
        if column.__class__ is not list:
            raise FrameError(f"frame of {schema}: column {name!r} is a {type(column).__name__}, not an array")
        lengths.add(len(column))
    if len(lengths) > 1:
        raise FrameError(f"frame of {schema}: columns differ in length ({', '.join(map(str, sorted(lengths)))})")
    shared = header.get(SHARED_KEY)
    if shared is None:
        check_columns_present(item)  # a frame with shared columns has them checked once they are put back
    elif shared.__class__ is not str or not (shared.isascii() and shared.isalnum()):
        raise FrameError(f"frame of {schema}: {SHARED_KEY!r} is {shared!r}, not the key of shared columns")
    elif SERIES_COLUMN not in columns:
        raise FrameError(f"frame of {schema}: shared columns need the {SERIES_COLUMN!r} column they are of")
    ids = columns.get(SERIES_COLUMN)
    if ids is not None:
        model = header.get(MODEL_KEY)
        if model.__class__ is not str or not model:
            raise FrameError(f"frame of {schema}: a {SERIES_COLUMN!r} column needs the {MODEL_KEY!r} it is of")
        if not are_series_ids(ids):
            raise FrameError(f"frame of {schema}: column {SERIES_COLUMN!r} holds something else than integer ids")


def check_columns_present(frame: dict[str, Any]) -> None:
    """FrameError naming the columns a frame's schema requires that it lacks."""
    columns = frame[COLUMNS_KEY]
    missing = [name for name in schema_of(frame).required if name not in columns]
    if missing:
        raise FrameError(f"frame of {frame[FRAME_KEY]['schema']} lacks column(s) {', '.join(map(repr, missing))}")


def check_frames(items: list[Any]) -> list[Any]:
    """The items, after `check_frame` on each frame among them."""
    for item in items:
        if is_frame(item):
            check_frame(item)
    return items


def expand(items: list[Any]) -> list[Any]:
    """The items with each frame replaced by its rows (upstream per-item objects, each with the frame's meta).

    A message's frames come first (a frame message holds nothing else; a role with `frames` hands on frames only), so
    a list whose first item is not a frame is returned as it is, without a pass over every item."""
    if not items or FRAME_KEY not in _first_object(items):
        return items
    out: list[Any] = []
    for item in items:
        if is_frame(item):
            out += rows_with_meta(item)
        else:
            out.append(item)
    return out


def split_schema(items: list[Any], schema: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """The frames of `schema` among `items`, and every other item with other frames replaced by their rows."""
    if not items or FRAME_KEY not in _first_object(items):
        return [], items
    own = [item for item in items if is_frame(item) and item[FRAME_KEY]["schema"] == schema]
    rest = [item for item in items if not is_frame(item) or item[FRAME_KEY]["schema"] != schema]
    return own, expand(rest)


def rows_with_meta(frame: dict[str, Any], indices: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """A frame's rows (all, or those at `indices`) as per-item objects, each with its own copy of the frame's meta."""
    if SHARED_KEY in frame[FRAME_KEY]:
        raise FrameError(f"frame of {frame[FRAME_KEY]['schema']} still lacks its shared columns (karez.shared_columns)")
    rows = schema_of(frame).rows(frame, indices)
    meta = frame.get(META_KEY) or {}
    for row in rows:
        row[META_KEY] = dict(meta)
    return rows


def slice_frame(frame: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Rows [start, stop) of a frame, as a frame with the same header and meta."""
    columns = {name: column[start:stop] for name, column in frame[COLUMNS_KEY].items()}
    return {**frame, COLUMNS_KEY: columns}


# ----- the wire -----
def encode_frames(frames: list[dict[str, Any]], encoding: str) -> bytes:
    """The body of a frame message in `encoding` (COMPACT or READABLE)."""
    return _msgpack_encoder.encode(frames) if encoding == COMPACT else codec.dumps(frames)


def frame_body(frames: list[dict[str, Any]], encoding: str) -> tuple[bytes, str]:
    """The body of a frame message and its encoding: `encoding`, or the readable form for frames holding a value
    the compact one cannot carry (an integer beyond 64 bits)."""
    try:
        return encode_frames(frames, encoding), encoding
    except (OverflowError, TypeError):
        return encode_frames(frames, READABLE), READABLE


def decode_body(data: bytes, headers: Mapping[str, str] | None) -> list[Any]:
    """The items of a message body: by its `Karez-Encoding` header, else JSON; frames among them are checked.

    Raises ValueError (FrameError for a frame or an encoding this karez does not read), naming what is wrong."""
    encoding = headers.get(ENCODING_HEADER) if headers else None
    if encoding is None:
        items = codec.split_items(_json(data))
        # without the header a frame is recognised only first in the message (a JSON frame sent by hand, `karez
        # test`): scanning every item of every per-item message would tax the upstream wire format
        return check_frames(items) if items and FRAME_KEY in _first_object(items) else items
    if encoding == COMPACT:
        try:
            decoded = _msgpack_decoder.decode(data)
        except msgspec.DecodeError as e:
            raise FrameError(f"body is not {COMPACT}: {e}") from None
    elif encoding == READABLE:
        decoded = _json(data)
    else:
        raise FrameError(f"{ENCODING_HEADER} {encoding!r} is not one this karez reads ({', '.join(ENCODINGS)})")
    items = codec.split_items(decoded)
    for item in items:
        if not is_frame(item):
            raise FrameError(f"a {encoding} message holds a {type(item).__name__} that is not a frame")
        check_frame(item)
    return items


def _json(data: bytes) -> Any:
    try:
        return codec.loads(data)
    except ValueError as e:
        raise ValueError(f"message is not JSON ({e})") from None

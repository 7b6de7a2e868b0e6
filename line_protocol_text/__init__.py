"""InfluxDB line protocol text, byte-identical to influxdb-client's `Point.to_line_protocol()` for one field.

A leaf package that imports nothing of this project, so that both `karez` (the `influx_line_protocol` converter) and
`tiro_models` (records to lines) write lines with the same escapes and value rules: each of those layers may import
nothing of the other. It holds the escapes, the field-value text and the per-item encoder; `tiro_models.line_protocol`
adds its batch encoder for records and the parser on top of these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import orjson

ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
ESCAPE_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})

# Measurements, tag keys and values repeat on every line (types, ids, paths): their escaped forms are cached, and a
# cache that fills up starts again, so a long run with ever-new values keeps a bounded cache of the recent ones. The
# limit holds a large site's series: with 65,536 a 104,003-point hall, polled round after round, missed on 82% of its
# lines (bench/bus.py `line_protocol_encode_site`: 166 k lines/s instead of 963 k).
CACHE_LIMIT = 1 << 18
key_cache: dict[str, str] = {}
tag_value_cache: dict[str, str] = {}
measurement_cache: dict[str, str] = {}


RowError = tuple[int, Exception]
"""A row of a column batch that cannot be written, and why."""


class UnsupportedFieldValue(TypeError, ValueError):
    """A field value of a type line protocol cannot carry (a TypeError and, as influxdb-client raises, a ValueError)."""


def _cached(cache: dict[str, str], text: str, make: Callable[[str], str]) -> str:
    """`make(text)`, kept in `cache` (emptied when it reaches CACHE_LIMIT)."""
    out = cache.get(text)
    if out is None:
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        out = cache[text] = make(text)
    return out


def _escaped_measurement(name: str) -> str:
    return str(name).translate(ESCAPE_MEASUREMENT)


def _escaped_key(key: str) -> str:
    return str(key).translate(ESCAPE_KEY)


def _escaped_tag_value(value: str) -> str:
    out = value.translate(ESCAPE_KEY)
    return out + " " if out.endswith("\\") else out


def escape_measurement(name: str) -> str:
    """Escape a measurement name (`,`, space, newline, tab, CR)."""
    return _cached(measurement_cache, name, _escaped_measurement)


def escape_key(key: str) -> str:
    """Escape a tag key or field key (`,`, `=`, space, newline, tab, CR); backslashes stay, as in influxdb-client."""
    return _cached(key_cache, key, _escaped_key)


def escape_tag_value(value: str) -> str:
    """Escape a tag value; one ending in a backslash gets a trailing space like influxdb-client."""
    return _cached(tag_value_cache, value, _escaped_tag_value)


def float_text(value: float | Decimal) -> str | None:
    """A float field's text (`1.5`, `2` for 2.0), or None for NaN and ±inf, which influxdb-client drops."""
    if not math.isfinite(value):
        return None
    text = str(value)
    return text[:-2] if text.endswith(".0") else text


def format_field_value(value: Any) -> str | None:
    """Field value text, or None when influxdb-client would drop the field (None, NaN, ±inf)."""
    cls = type(value)
    if cls is float:
        return float_text(value)
    if cls is int:
        return f"{value}i"
    if cls is str:
        return '"' + value.translate(ESCAPE_STRING) + '"'
    if cls is bool:
        return "true" if value else "false"
    if value is None:
        return None
    # subclasses, in influxdb-client's order of checks
    if isinstance(value, float | Decimal):
        return float_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{int(value)}i"
    if isinstance(value, str):
        return '"' + str(value).translate(ESCAPE_STRING) + '"'
    raise UnsupportedFieldValue(f"field value of type {type(value).__name__} cannot be written as line protocol")


_head_cache: dict[tuple, str] = {}


def _encode_head(measurement: str, tags: Mapping[str, Any]) -> str:
    parts = [escape_measurement(measurement)]
    for key, value in sorted(tags.items()):
        if value is None:
            continue
        ekey = escape_key(key)
        evalue = escape_tag_value(value if type(value) is str else str(value))
        if ekey and evalue:
            parts.append(f"{ekey}={evalue}")
    return ",".join(parts)


def encode_line(
    measurement: str, tags: Mapping[str, Any], field_key: str, field_value: Any, time_ns: int | None
) -> str:
    """One line `measurement[,tag=v...] field=value [time]`; tags with None/empty values are omitted."""
    cls = type(field_value)
    value_text: str | None
    if cls is float and field_value - field_value == 0.0:  # finite float: the hot path
        value_text = repr(field_value)
        if value_text[-2:] == ".0":
            value_text = value_text[:-2]
    else:
        value_text = format_field_value(field_value)
        if value_text is None:
            return ""
    try:
        # a flat tuple of strings hashes about twice as fast as one of (key, value) pairs; its length fixes the
        # number of tags, so keys and values cannot be confused
        cache_key = (measurement, field_key, *tags, *tags.values())
        head = _head_cache.get(cache_key)
    except TypeError:  # unhashable tag value: no caching
        cache_key, head = None, None
    if head is None:
        head = f"{_encode_head(measurement, tags)} {escape_key(field_key)}="
        # only all-text keys are stored: 1, 1.0 and True are equal dict keys but are written differently
        if cache_key is not None and all(type(k) is str for k in cache_key):
            if len(_head_cache) >= CACHE_LIMIT:
                _head_cache.clear()
            _head_cache[cache_key] = head
    if time_ns is None:
        return head + value_text
    return f"{head}{value_text} {time_ns}"


def take_field(payload: dict[str, Any], field_name: str | None, field_value: str) -> tuple[int, Any, Any]:
    """Pop an item's timestamp (seconds, as ns) and field (upstream rules: key from `field_name`, or "value"), leaving
    its tags (and `_`-prefixed keys) in it: (time_ns, field key, field value)."""
    time_ns = int(payload.pop("timestamp") * 1e9)
    if field_name:
        key = payload[field_name]
        value = payload.pop(field_value)
        payload.pop(field_name, None)
        return time_ns, key, value
    return time_ns, "value", payload.pop(field_value)


class ItemLineEncoder:
    """The influx_line_protocol converter's `item_to_line` for a stream of items: which keys are tags is worked out
    once per key set, and the text before the field value once per series (measured 2x faster per item)."""

    def __init__(self, measurement: str, field_name: str | None, field_value: str) -> None:
        self.measurement = measurement
        self.field_name = field_name
        self.field_value = field_value
        # an item's keys (field keys taken out) -> its tag keys and the heads of the series seen with them
        self._plans: dict[tuple[Any, ...], tuple[tuple[Any, ...], dict[tuple[Any, ...], str]]] = {}

    def line(self, payload: dict[str, Any]) -> str:
        """`item_to_line(payload, …)`: the same text and the same changes to `payload`."""
        time_ns, key, value = take_field(payload, self.field_name, self.field_value)
        value_text: str | None
        if value.__class__ is float and value - value == 0.0:  # finite float: the hot path
            value_text = repr(value)
            if value_text[-2:] == ".0":
                value_text = value_text[:-2]
        else:
            value_text = format_field_value(value)
            if value_text is None:
                return ""
        return f"{self._head(payload, key)}{value_text} {time_ns}"

    def head(self, payload: dict[str, Any], remember: bool = True) -> str:
        """The text of an item's line before its field value (`measurement,tags field=`); takes the field and the
        timestamp out of `payload`, as `line` does. `remember=False`: for a caller that keeps the heads itself."""
        _, key, _ = take_field(payload, self.field_name, self.field_value)
        return self._head(payload, key, remember)

    def _head(self, payload: dict[str, Any], key: Any, remember: bool = True) -> str:
        keys = tuple(payload)
        plan = self._plans.get(keys)
        if plan is None:
            plan = self._plan(keys)
        tag_keys, heads = plan
        try:
            series = (key, *map(payload.__getitem__, tag_keys))
            head = heads.get(series)
        except TypeError:  # an unhashable tag value: no caching
            series, head = None, None
        if head is None:
            tags = dict(zip(tag_keys, series[1:] if series else (payload[k] for k in tag_keys), strict=True))
            head = f"{_encode_head(self.measurement, tags)} {escape_key(key)}="
            # only all-text series are stored: 1, 1.0 and True are equal dict keys but are written differently
            if remember and series is not None and all(type(v) is str for v in series):
                if len(heads) >= CACHE_LIMIT:
                    heads.clear()
                heads[series] = head
        return head

    def _plan(self, keys: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[tuple[Any, ...], str]]:
        plan: tuple[tuple[Any, ...], dict[tuple[Any, ...], str]] = (tuple(k for k in keys if k[:1] != "_"), {})
        if len(self._plans) >= 1024:  # a stream has a few key sets; a runaway one must not grow without bound
            self._plans.clear()
        self._plans[keys] = plan
        return plan


def column_lines(
    heads: list[str], values: list[Any], stamps: list[Any]
) -> tuple[list[str], list[tuple[int, Exception]]]:
    """The lines of rows given as columns: each row's head (`encode_line`'s text before the value), field value and
    timestamp (epoch seconds); and (row, error) for each row whose value or timestamp cannot be written. A row whose
    value influxdb-client would drop (None, NaN, ±inf) has no line, as in `encode_line`.

    The kernel of line protocol on frames (bench/bus.py `line_protocol_frames`): finite floats and float timestamps,
    the usual columns, are formatted in whole-column passes."""
    if _FLOATS.issuperset(map(type, values)) and _FLOATS.issuperset(map(type, stamps)):
        try:
            total = math.fsum(values)
            nanos = [int(ts * 1e9) for ts in stamps]
        except (OverflowError, ValueError):  # ±inf or NaN somewhere: row by row
            pass
        else:
            if math.isfinite(total):
                texts = [text.removesuffix(".0") for text in map(repr, values)]
                return [f"{h}{v} {t}" for h, v, t in zip(heads, texts, nanos, strict=True)], []
    lines: list[str] = []
    failed: list[RowError] = []
    for row, (head, value, ts) in enumerate(zip(heads, values, stamps, strict=True)):
        try:
            text = format_field_value(value)
            if text is not None:
                lines.append(f"{head}{text} {int(ts * 1e9)}")
        except (TypeError, ValueError, OverflowError) as e:
            failed.append((row, e))
    return lines, failed


_FLOATS = frozenset((float,))
_NANOS = (1e9).__mul__
# rows from which numpy's fixed cost per column (about 10 µs) is repaid: 0.04 µs a row against 0.12 in Python
_NUMPY_NANOS_FROM = 64
_INT64_END = 2.0**63


def _nanos_text(stamps: list[Any]) -> bytes | None:
    """The JSON array of `int(ts * 1e9)` for each timestamp, as `column_lines` makes them; None when one is not a
    number or has no 64-bit nanoseconds (NaN, ±inf, beyond 64 bits).

    A column of plain ints and floats whose nanoseconds fit in int64 is multiplied and truncated in numpy, which
    gives the same numbers (the same IEEE product, truncated toward zero); any other column goes row by row."""
    if len(stamps) >= _NUMPY_NANOS_FROM:
        import numpy as np  # here, not at import: the CLIs that load this module start without numpy

        try:
            seconds = np.asarray(stamps)
        except (TypeError, ValueError, OverflowError):  # a ragged or odd column: row by row says what it is
            seconds = None
        if seconds is not None and seconds.ndim == 1 and seconds.dtype.kind in "fi":
            with np.errstate(over="ignore"):  # a product beyond float64 is inf, which the check below declines
                nanos = seconds * 1e9
            if (np.abs(nanos) < _INT64_END).all():  # False for NaN too
                return orjson.dumps(nanos.astype(np.int64), option=orjson.OPT_SERIALIZE_NUMPY)
    try:
        return orjson.dumps(list(map(int, map(_NANOS, stamps))))
    except (TypeError, ValueError, OverflowError):  # not a number, NaN, ±inf, beyond 64-bit nanoseconds
        return None


def column_text(heads: list[str], values: list[Any], stamps: list[Any]) -> str | None:
    """`"\\n".join` of `column_lines`' lines when every value is a finite float and every timestamp a number, made
    without a Python step per row; None (nothing made) for any other columns, which `column_lines` then writes.

    The kernel of line protocol on frames (bench/frames.py `line_protocol`): orjson writes the floats in C; its text
    is Python's `repr` (both the shortest round-trip digits) except for NaN and ±inf (`null`), exponents below 1e-4
    (`0.00001` for `1e-05`) and the `.0` that line protocol leaves out, so columns whose text has an exponent, a
    null or a run of zeros after the point are left to `column_lines`, and `.0` is cut from the whole text."""
    if not _FLOATS.issuperset(map(type, values)):
        return None
    if not values:
        return ""
    value_text = orjson.dumps(values)
    if b"e" in value_text or b"n" in value_text or b".0000" in value_text:
        return None
    nanos_text = _nanos_text(stamps)
    if nanos_text is None:
        return None
    # "[1.5,2.0]" -> "1.5 ", "2 "; "[1,2]" -> "1\n", "2": a row's parts without a join per row
    values_sp = value_text.replace(b".0,", b",").replace(b".0]", b"]")[1:-1].replace(b",", b" ,").decode() + " "
    parts = [""] * (3 * len(heads))
    parts[0::3] = heads
    parts[1::3] = values_sp.split(",")
    parts[2::3] = nanos_text[1:-1].replace(b",", b"\n,").decode().split(",")
    return "".join(parts)

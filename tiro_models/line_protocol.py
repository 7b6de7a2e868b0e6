"""InfluxDB line protocol of data-point records, byte-identical to Karez `influx_line_protocol` (karez-upstream §4.2).

One record gives one line `measurement[,tag=v...] field=value[ <ns>]`: the field key is `record[field_name]` (or the
literal `value` when field_name is None), the field value `record[field_value]`, tags every other key not starting with
"_", str()-ified and sorted by key, None and empty values omitted. Escaping is influxdb-client's, including its quirks:
backslashes in keys and tag values are not escaped, and a tag value ending in "\\" gets a trailing space, so such
values do not survive `parse` unchanged. Time is `int(seconds * 1e9)` as upstream (float rounding included); a datetime
or an ISO 8601 string is converted to epoch seconds first (naive means UTC), and a missing/None timestamp gives a line
without time. A field value that is None, NaN or infinite gives the empty line "", as upstream.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, cast

from line_protocol_text import (
    ESCAPE_KEY,
    escape_key,
    escape_measurement,
    escape_tag_value,
    format_field_value,
    key_cache,
    measurement_cache,
    tag_value_cache,
)
from tiro_models.errors import SnapshotError

__all__ = ["FIELD_NAME", "FIELD_VALUE", "encode", "encode_lines", "encode_many", "parse", "parse_many", "timestamp_ns"]

FIELD_NAME = "field"  # a record's key whose value is the line's field key (the data-point name): Tiro's §6 schema
FIELD_VALUE = "value"  # a record's key holding the field value


def timestamp_ns(timestamp: Any) -> int | None:
    """Nanoseconds since the epoch as upstream computes them: `int(seconds * 1e9)`; None stays None."""
    kind = type(timestamp)
    if kind is float or kind is int:
        return int(timestamp * 1e9)
    if timestamp is None:
        return None
    if isinstance(timestamp, str):
        try:
            timestamp = datetime.fromisoformat(timestamp)
        except ValueError:
            raise SnapshotError(f"timestamp {timestamp!r} is neither epoch seconds nor ISO 8601") from None
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC)
        return int(timestamp.timestamp() * 1e9)
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        return int(timestamp * 1e9)
    raise SnapshotError(f"timestamp of type {type(timestamp).__name__} is not a time")


def epoch_seconds(timestamp: Any, where: str) -> float:
    """Epoch seconds of a record timestamp (number, ISO text, naive = UTC); now when missing; errors name `where`."""
    cls = type(timestamp)
    if cls is float or cls is int:
        return float(timestamp)
    if timestamp is None:
        return time.time()
    try:
        return cast(int, timestamp_ns(timestamp)) / 1e9  # not None: None was handled above
    except SnapshotError as exc:
        raise SnapshotError(f"{where}: {exc.message}") from None


def _where(record: Mapping[str, Any]) -> str:
    asset_path = record.get("asset_path")
    field = record.get("field")
    if asset_path is not None and field is not None:
        return f"{asset_path}.{record.get('type', '?')}.{field}"
    return f"record {dict(record)!r}"[:200]


_SKIPPED_TAG = "timestamp"
_TAGS_CACHE_LIMIT = 131_072


class _TagPlan:
    """How to write the tags of records with one key order: tag keys sorted once, tag text cached by tag values."""

    __slots__ = ("getter", "keyset", "prefixes", "texts")

    def __init__(self, keys: tuple[Any, ...], field_name: str | None, field_value: str) -> None:
        # The plan depends on the set of keys only (tags are sorted): `record.keys() == keyset` is a cheap check.
        self.keyset = frozenset(keys)
        tags = sorted(
            (k for k in keys if k and not str(k).startswith("_") and k not in (field_value, field_name, _SKIPPED_TAG)),
            key=str,
        )
        self.prefixes = tuple("," + str(k).translate(ESCAPE_KEY) + "=" for k in tags)
        if len(tags) == 1:
            only = tags[0]
            self.getter: Any = lambda record: (record[only],)
        elif tags:
            self.getter = itemgetter(*tags)
        else:
            self.getter = lambda record: ()
        self.texts: dict[Any, str] = {}  # tag values -> escaped ",k=v..." text

    def add(self, values: tuple[Any, ...]) -> str:
        """Render the tag text of these values, caching it when every value is a str or None."""
        # Only str/None keys are cached: 1, 1.0 and True are equal dict keys but write different tag text.
        cache = tag_value_cache
        parts: list[str] = []
        cacheable = True
        for prefix, tag_value in zip(self.prefixes, values, strict=True):
            if tag_value is None:
                continue
            if type(tag_value) is not str:
                cacheable = False
                tag_value = str(tag_value)
            escaped = cache.get(tag_value)
            if escaped is None:
                escaped = escape_tag_value(tag_value)
            if escaped:
                parts.append(prefix + escaped)
        text = "".join(parts)
        if cacheable:
            if len(self.texts) >= _TAGS_CACHE_LIMIT:
                self.texts.clear()
            self.texts[values] = text
        return text


# Plans by (field_name, field_value), then by the record's keys in order; the default pair skips one lookup.
_plans: dict[tuple[str | None, str], dict[tuple[Any, ...], _TagPlan]] = {}
_default_plans: dict[tuple[Any, ...], _TagPlan] = {}
_plans[("field", "value")] = _default_plans
_NO_PLANS: dict[tuple[Any, ...], _TagPlan] = {}
# encode_lines keeps recent plans by number of keys: a length and one key-set comparison find a record's plan
# without building the tuple of its keys (records of one batch have few key sets, mostly of distinct lengths).
_PLANS_PER_LEN = 4


def _remember_by_len(by_len: dict[int, list[_TagPlan]], length: int, plan: _TagPlan) -> None:
    """Put `plan` first among the recent plans of records with `length` keys (a new list: readers never see it grow)."""
    by_len[length] = [plan, *by_len.get(length, ())[: _PLANS_PER_LEN - 1]]


def _new_plan(record: Mapping[str, Any], field_name: str | None, field_value: str) -> _TagPlan:
    by_keys = _plans.setdefault((field_name, field_value), {})
    if len(by_keys) >= 1024:
        by_keys.clear()
    keys = tuple(record)
    plan = by_keys[keys] = _TagPlan(keys, field_name, field_value)
    return plan


def encode(
    record: Mapping[str, Any],
    *,
    measurement: str = "tiro_telemetry",
    field_name: str | None = FIELD_NAME,
    field_value: str = FIELD_VALUE,
) -> str:
    """One line of line protocol for a record, byte-identical to Karez influx_line_protocol ("" if no field)."""
    # One loop serves single records and batches alike; writers with many records call encode_lines directly.
    return encode_lines((record,), measurement=measurement, field_name=field_name, field_value=field_value)[0]


def encode_lines(
    records: Iterable[Mapping[str, Any]],
    *,
    measurement: str = "tiro_telemetry",
    field_name: str | None = FIELD_NAME,
    field_value: str = FIELD_VALUE,
) -> list[str]:
    """`encode` of every record ("" for a dropped one), with the per-call lookups done once per batch."""
    # Hot path (10^5+ records/s): every step inlined in one loop, so a batch pays no call per record.
    measurement_text = measurement_cache.get(measurement)
    if measurement_text is None:
        measurement_text = escape_measurement(measurement)
    by_keys = _plans.get((field_name, field_value), _NO_PLANS)
    escaped_keys = key_cache
    field_text = format_field_value
    out: list[str] = []
    append = out.append
    by_len: dict[int, list[_TagPlan]] = {}
    plan: Any = None
    for record in records:
        try:
            value = record[field_value]
            key = "value" if field_name is None else record[field_name]
        except KeyError as exc:
            raise SnapshotError(
                f"{_where(record)}: record has no {exc.args[0]!r} key for the line-protocol field"
            ) from None
        if value.__class__ is float:
            if value - value != 0.0:  # NaN or infinite: the field is dropped
                append("")
                continue
            text = repr(value)
            if text[-2:] == ".0":
                text = text[:-2]
        elif value.__class__ is int:
            text = f"{value}i"
        else:
            try:
                maybe_text = field_text(value)
            except TypeError as exc:
                raise SnapshotError(f"{_where(record)}: {exc}") from None
            if maybe_text is None:
                append("")
                continue
            text = maybe_text
        for plan in by_len.get(len(record), ()):  # as in `encode`: a batch has few key sets
            if record.keys() == plan.keyset:
                break
        else:
            plan = by_keys.get(tuple(record))
            if plan is None:
                plan = _new_plan(record, field_name, field_value)
                by_keys = _plans[(field_name, field_value)]
            _remember_by_len(by_len, len(record), plan)
        values = plan.getter(record)
        try:
            tags = plan.texts.get(values)
        except TypeError:  # an unhashable tag value
            tags = None
        if tags is None:
            tags = plan.add(values)
        field_key = escaped_keys.get(key) if key.__class__ is str else None
        if field_key is None:
            field_key = escape_key(str(key))
        timestamp = record.get(_SKIPPED_TAG)
        if timestamp is None:
            append(f"{measurement_text}{tags} {field_key}={text}")
        elif timestamp.__class__ is float:
            append(f"{measurement_text}{tags} {field_key}={text} {int(timestamp * 1e9)}")
        else:
            try:
                ns = timestamp_ns(timestamp)
            except SnapshotError as exc:
                raise SnapshotError(f"{_where(record)}: {exc.message}") from None
            append(f"{measurement_text}{tags} {field_key}={text} {ns}")
    return out


def encode_many(
    records: Iterable[Mapping[str, Any]],
    *,
    measurement: str = "tiro_telemetry",
    field_name: str | None = FIELD_NAME,
    field_value: str = FIELD_VALUE,
) -> str:
    """Lines for many records joined by "\\n" (a batch Telegraf and InfluxDB accept); dropped records give no line."""
    lines = encode_lines(records, measurement=measurement, field_name=field_name, field_value=field_value)
    return "\n".join(line for line in lines if line)


_UNESCAPE = {",": ",", "=": "=", " ": " ", "n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _read_escaped(line: str, i: int, stops: str, escapable: str) -> tuple[str, int]:
    """Read up to the first unescaped character of `stops`; returns (unescaped text, index of the stop or len)."""
    out: list[str] = []
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] in escapable:
            out.append(_UNESCAPE[line[i + 1]])
            i += 2
            continue
        if c in stops:
            break
        out.append(c)
        i += 1
    return "".join(out), i


def _parse_field_value(text: str) -> Any:
    if text in ("true", "True", "TRUE", "t", "T"):
        return True
    if text in ("false", "False", "FALSE", "f", "F"):
        return False
    try:
        if text.endswith("i"):
            return int(text[:-1])
        if text.endswith("u"):
            return int(text[:-1])
        return float(text)
    except ValueError:
        raise ValueError(f"bad field value {text!r}") from None


Parsed = tuple[str, dict[str, str], dict[str, Any], int | None]


def _parse_from(text: str, i: int) -> tuple[Parsed, int]:
    """Parse the line starting at i; returns it and the index of its ending newline (or len(text))."""
    n = len(text)
    start = i

    def error(what: str) -> ValueError:
        end = text.find("\n", start)
        return ValueError(f"line protocol: {what} in {text[start : end if end >= 0 else n]!r}")

    measurement, i = _read_escaped(text, i, ", \n", ", ntr")
    if not measurement:
        raise error("missing measurement")
    tags: dict[str, str] = {}
    while i < n and text[i] == ",":
        key, i = _read_escaped(text, i + 1, "=, \n", ",= ntr")
        if i >= n or text[i] != "=":
            raise error(f"tag {key!r} without '='")
        value, i = _read_escaped(text, i + 1, ", \n", ",= ntr")
        tags[key] = value
    if i >= n or text[i] != " ":
        raise error("missing fields")
    i += 1
    fields: dict[str, Any] = {}
    while True:
        key, i = _read_escaped(text, i, "=, \n", ",= ntr")
        if i >= n or text[i] != "=" or not key:
            raise error("field without key or '='")
        i += 1
        if i < n and text[i] == '"':
            value, i = _read_escaped(text, i + 1, '"', '"\\')
            if i >= n:
                raise error("unterminated string field")
            fields[key] = value
            i += 1
        else:
            value_start = i
            while i < n and text[i] not in ", \n":
                i += 1
            try:
                fields[key] = _parse_field_value(text[value_start:i])
            except ValueError as exc:
                raise error(str(exc)) from None
        if i < n and text[i] == ",":
            i += 1
            continue
        break
    timestamp: int | None = None
    if i < n and text[i] == " ":
        end = text.find("\n", i)
        end = n if end < 0 else end
        try:
            timestamp = int(text[i + 1 : end])
        except ValueError:
            raise error(f"bad timestamp {text[i + 1 : end]!r}") from None
        i = end
    if i < n and text[i] != "\n":
        raise error(f"unexpected {text[i]!r} after the fields")
    return (measurement, tags, fields, timestamp), i


def parse(line: str) -> Parsed:
    """Parse one line of line protocol into (measurement, tags, fields, ns or None); raises ValueError if malformed."""
    parsed, end = _parse_from(line, 0)
    if end != len(line):
        raise ValueError(f"line protocol: more than one line in {line[:80]!r}")
    return parsed


def parse_many(text: str) -> list[Parsed]:
    """Parse a batch of lines (string fields may hold raw newlines); blank lines and # comments are skipped."""
    out: list[Parsed] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == "\n":
            i += 1
            continue
        if text[i] == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        parsed, i = _parse_from(text, i)
        out.append(parsed)
    return out

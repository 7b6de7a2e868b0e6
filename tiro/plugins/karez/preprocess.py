"""Converters that turn mock-server items into flat records (with epoch timestamps) and map uuids to paths."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from itertools import repeat
from typing import Any

from dateutil import parser

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.converter.base import ConverterBase
from karez.converter.extras.fix_timestamp import Converter as FixTimestampConverter
from karez.errors import DataError
from karez.frames import (
    COLUMNS_KEY,
    FRAME_KEY,
    expand,
    frame_length,
    is_frame,
    make_frame,
    model_of,
    rows_with_meta,
    series_ids,
)
from karez.routing import META_KEY, merged_meta
from tiro.frames import POINTS, RECORDS
from tiro.plugins.karez.settings import model_for, split_uses
from tiro.plugins.karez.timestamps import EpochConverter
from tiro.reference import read_reference
from tiro_models.errors import SnapshotError
from tiro_models.paths import asset_type_path
from tiro_models.records import decompose, point_tags
from tiro_models.series import SeriesMemory
from tiro_models.spec import CATEGORIES, PATH_SEP

_CATEGORY_SET = frozenset(CATEGORIES)
_TAGS_LIMIT = 262_144  # data points whose tags one converter remembers (a 10^5-point hall fits)


class ItemDataError(DataError, ValueError):
    """An item that cannot be converted (no or non-string path, wrong shape): retrying it can never help."""


def describe_item(payload: Any) -> str:
    """`path '<path>'` (or what stands in its place), for naming an item in an error."""
    path = payload.get("path", "<missing>") if payload.__class__ is dict else f"<{type(payload).__name__} item>"
    return f"path {path!r:.160}"


class _EpochTimestamps(FixTimestampConverter):
    """fix_timestamp whose `tz_infos` is optional, with a cached fast path for aware ISO strings."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """`tz_infos` becomes optional (Tiro works without it)."""
        yield from super().config_entities()
        yield OptionalConfigEntity("tz_infos", {}, "Mapping from timezone abbreviations to IANA names")

    @cached_property
    def _tags_by_path(self) -> dict[str, dict]:
        return {}  # the tags of each data-point path seen: paths repeat every round

    @cached_property
    def epoch(self) -> EpochConverter:
        """The converter, built once (naive and odd strings go through dateutil with tz_infos)."""
        tzinfos = self.tz_infos
        return EpochConverter(lambda ts: parser.parse(ts, tzinfos=tzinfos).timestamp())


class TiroPreprocessConverter(_EpochTimestamps):
    """Splits `{path, result}` items into flat data-point records with epoch-second timestamps."""

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Decompose Tiro data into flat records with epoch timestamps."

    def convert(self, payload: dict) -> Iterator[dict]:
        """One record per data point under `payload["path"]` (spec §3.4 shape); ItemDataError for a bad item."""
        path = payload.get("path")
        if path.__class__ is not str:
            what = "has no 'path'" if path is None else f"has a {type(path).__name__} 'path', not a string"
            raise ItemDataError(f"item {what}: {str(payload)[:160]}")
        if "result" not in payload:
            raise ItemDataError(f"item for path {path!r:.160} has no 'result'")
        epoch = self.epoch
        for record in decompose(path, payload["result"]):
            record["timestamp"] = epoch(record.get("timestamp"))
            yield record

    FRAMES = True

    def convert_batch(self, items: list[Any], subject: str = "") -> list[Any]:
        """Records with `_karez` meta for a batch of `{path, result}` items: `convert` per item, without its copies;
        with `frames`, a `tiro.points` frame becomes one `tiro.records` frame (the records of any other item follow).

        Bad items (rows) are logged (naming their path) and skipped one by one; the valid rest goes on. A message with
        no good item at all raises ItemDataError in durable mode, so that it is dead-lettered with the reason."""
        bad: list[str] = []
        if self.frames_encoding is not None and items and is_frame(items[0]):
            frames: list[Any] = []
            odd: list[Any] = []  # records of rows and items that took the per-item path: after the frames
            rest: list[Any] = []
            total = 0
            for item in items:
                if is_frame(item) and item[FRAME_KEY]["schema"] == POINTS.name:
                    total += frame_length(item)
                    frame = self._records_frame(item, subject, odd, bad)
                    if frame is not None:
                        frames.append(frame)
                else:
                    rest += expand([item])
            total += len(rest)
            odd += self._records(rest, subject, bad)
            if bad and len(bad) == total and self.delivery.redelivers:
                raise _nothing_converted(bad, total, subject)
            return frames + odd
        out = self._records(items, subject, bad)
        if bad and len(bad) == len(items) and self.delivery.redelivers:
            raise _nothing_converted(bad, len(items), subject)
        return out

    def _records_frame(self, frame: dict[str, Any], subject: str, odd: list[Any], bad: list[str]) -> dict | None:
        """The `tiro.records` frame of a `tiro.points` frame: the timestamp column in epoch seconds, every path
        checked. A row whose path or timestamp does not pass goes through the per-item path, which adds its records
        to `odd` or reports it; None when no row is left in the frame."""
        columns = frame[COLUMNS_KEY]
        paths, stamps = columns["path"], columns["timestamp"]
        series = series_ids(frame)
        if series is not None and self._checked_ids.knows_all(*series):
            slow: set[int] = set()
        else:
            slow = self._unchecked_rows(paths)
            if series is not None:
                self._learn_ids(series, slow)
        if not slow and stamps and stamps[0] != stamps[-1]:  # devices' own timestamps: a distinct one per row
            try:
                new_stamps = self.epoch.many(stamps)
            except Exception:  # some cannot be read: found below, timestamp by timestamp
                pass
            else:
                meta = frame.get(META_KEY)
                return make_frame(RECORDS.name, {**columns, "timestamp": new_stamps}, meta, model_of(frame))
        try:
            distinct = list(dict.fromkeys(stamps))
        except TypeError:  # an unhashable timestamp: those rows are converted on their own
            slow.update(i for i, ts in enumerate(stamps) if ts.__class__ not in (str, float, int))
            distinct = list(dict.fromkeys(ts for i, ts in enumerate(stamps) if i not in slow))
        epoch = self.epoch
        try:
            seconds = dict(zip(distinct, epoch.many(distinct), strict=True))
        except Exception:  # some cannot be read: the others are, and those rows take the per-item path
            seconds = {}
            for ts in distinct:
                try:
                    seconds[ts] = epoch(ts)
                except Exception:
                    slow.update(i for i, other in enumerate(stamps) if other == ts)
        if slow:
            for row in rows_with_meta(frame, sorted(slow)):
                self._one_by_one(row, subject, odd, bad)
            keep = [i not in slow for i in range(len(paths))]
            columns = {name: [v for v, k in zip(column, keep, strict=True) if k] for name, column in columns.items()}
            if not columns["path"]:
                return None
            stamps = columns["timestamp"]
        new_stamps = list(map(seconds.__getitem__, stamps))
        return make_frame(RECORDS.name, {**columns, "timestamp": new_stamps}, frame.get(META_KEY), model_of(frame))

    @cached_property
    def _checked_ids(self) -> SeriesMemory[bool]:
        """Per model, the series ids whose paths passed: checked by integer from then on."""
        return SeriesMemory(_TAGS_LIMIT)

    def _unchecked_rows(self, paths: list[Any]) -> set[int]:
        """The rows of a path column whose path is not a well-formed data-point path (their tags learned)."""
        tags_by_path = self._tags_by_path
        learn = self._learn_tags
        try:
            unknown = {
                p
                for p in set(paths).difference(tags_by_path)
                if p.__class__ is not str or learn(tags_by_path, p) is None
            }
            return {i for i, p in enumerate(paths) if p in unknown} if unknown else set()
        except TypeError:  # an unhashable path: row by row
            return {
                i
                for i, p in enumerate(paths)
                if p.__class__ is not str or (p not in tags_by_path and learn(tags_by_path, p) is None)
            }

    def _learn_ids(self, series: tuple[str, list[int]], unchecked: set[int]) -> None:
        """Remember the series ids of a model whose paths passed (within a model an id stands for one path)."""
        model, ids = series
        passed = ids if not unchecked else [i for row, i in enumerate(ids) if row not in unchecked]
        self._checked_ids.learn(model, zip(passed, repeat(True)))

    def _records(self, items: list[Any], subject: str, bad: list[str]) -> list[Any]:
        """The records of per-item `{path, result}` objects (bad ones reported and added to `bad`)."""
        tags_by_path = self._tags_by_path
        epoch = self.epoch
        last_ts: Any = None
        last_seconds = 0.0
        out: list[dict] = []
        append = out.append
        for payload in items:
            if payload.__class__ is not dict:
                self.stats.dropped += 1
                self.log("error", f"Dropped a non-object item on {subject}")
                bad.append(f"a {type(payload).__name__} item, not an object")
                continue
            # Hot path: one data point whose tags are known from an earlier round and whose DP keys are not tags.
            path = payload.get("path")
            result = payload.get("result")
            meta = payload.get(META_KEY)
            tags = tags_by_path.get(path) if path.__class__ is str else None
            if tags is None and path.__class__ is str:
                tags = self._learn_tags(tags_by_path, path)
            if tags is None or result.__class__ is not dict or (meta is not None and meta.__class__ is not dict):
                self._one_by_one(payload, subject, out, bad)
                continue
            record = {**tags, **result}
            if len(record) != len(tags) + len(result):  # a DP key equal to a tag: the per-item path reports it
                self._one_by_one(payload, subject, out, bad)
                continue
            ts = result.get("timestamp")
            if ts.__class__ is str and ts == last_ts:  # a batch shares one or a few timestamps
                record["timestamp"] = last_seconds
            else:
                try:
                    record["timestamp"] = seconds = epoch(ts)
                except Exception:  # an unreadable timestamp: the per-item path reports it
                    self._one_by_one(payload, subject, out, bad)
                    continue
                if ts.__class__ is str:
                    last_ts, last_seconds = ts, seconds
            # the payload is dropped after conversion, so its meta dict can move to the single record
            record[META_KEY] = meta if meta is not None else {}
            append(record)
        return out

    def _one_by_one(self, payload: dict, subject: str, out: list[dict], bad: list[str]) -> None:
        """Add the records of one item to `out`, or log its error, count it and add it to `bad`.

        Logged rather than raised in durable mode too: one bad item must not send its valid neighbours round the
        redelivery loop and into the dead-letter subject with it."""
        try:
            out.extend(self._records_one_by_one(payload))
        except Exception as e:
            reason = f"{describe_item(payload)}: {type(e).__name__}: {e}"
            self.stats.errors += 1
            self.log("error", f"Dropped the item with {reason} on {subject}")
            bad.append(reason)

    @staticmethod
    def _learn_tags(tags_by_path: dict[str, dict], path: str) -> dict | None:
        """Tags of a well-formed data-point path (remembered), or None for any other path."""
        head = path.rsplit(PATH_SEP, 2)
        if len(head) != 3 or head[1] not in _CATEGORY_SET or path.count(PATH_SEP) % 2 == 0:
            return None
        try:
            tags = point_tags(path)
        except SnapshotError:
            return None  # the per-item path reports it
        if len(tags_by_path) >= _TAGS_LIMIT:
            tags_by_path.clear()
        tags_by_path[path] = tags
        return tags

    def _records_one_by_one(self, payload: dict) -> list[dict]:
        """`convert` of one item with the runtime's meta merge (its errors are the caller's to report)."""
        records = list(self.convert(payload))
        source_meta = payload.get(META_KEY)
        for record in records:
            record[META_KEY] = merged_meta(source_meta, record.get(META_KEY))
        return records


def _nothing_converted(bad: list[str], total: int, subject: str) -> ItemDataError:
    shown = "; ".join(bad[:3]) + ("; …" if len(bad) > 3 else "")
    return ItemDataError(f"none of the {total} items on {subject} can be converted: {shown}")


class TiroUpdateInfoForValueConverter(_EpochTimestamps):
    """Turns by-uuid items `{name, value[, timestamp]}` into by-path items using a reference's uuid_map."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Reference, scenario and uses files."""
        yield from super().config_entities()
        yield ConfigEntity("reference", "Reference YAML with a uuid_map")
        yield ConfigEntity("scenario", "Scenario YAML")
        yield ConfigEntity("uses", "Uses YAML file(s): a list or a comma-separated string")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Map uuid values to Tiro data-point paths."

    def _table(self) -> dict[str, tuple[str, str]]:
        """uuid → (data-point path, category token), built once."""
        table = self.__dict__.get("_uuid_table")
        if table is None:
            model = model_for(self.config.scenario, split_uses(self.config.uses))
            uuid_map = read_reference(self.config.reference).get("uuid_map") or {}
            table = {}
            for uuid, target in uuid_map.items():
                asset, _, name = str(target).rpartition(".")
                type_path = f"{asset_type_path(asset)}.{name}"
                spec = model.points.get(type_path)
                category = spec.category if spec is not None else CATEGORIES[0]
                if spec is None:
                    self.log("warning", f"uuid {uuid}: {type_path} is not required by the uses; sent as telemetry")
                table[str(uuid)] = (f"{asset}.{category}.{name}", category.lower())
            self.__dict__["_uuid_table"] = table
        return table

    def convert(self, payload: dict) -> Iterator[dict]:
        """`{path, result: {value, timestamp, ...}, _karez.category}`; unknown uuids are logged and dropped."""
        payload = dict(payload)
        payload.pop("_karez", None)
        uuid = payload.pop("name", None)
        target = self._table().get(str(uuid))
        if target is None:
            self.log("error", f"Cannot find uuid {uuid} in {self.config.reference}; item dropped")
            return
        if "timestamp" in payload or self.is_configured("tz_infos"):
            payload["timestamp"] = self.epoch(payload.get("timestamp"))
        path, category = target
        yield {"path": path, "result": payload, "_karez": {"category": category}}


class TiroFilterByReferenceConverter(ConverterBase):
    """Passes an item on only when its uuid field is in the reference's uuid_map."""

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Reference file and the item key holding the uuid."""
        yield from super().config_entities()
        yield ConfigEntity("reference", "Reference YAML with a uuid_map")
        yield ConfigEntity("uuid_field", "Item key that holds the uuid")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Keep only items whose uuid is in a Tiro reference."

    def convert(self, payload: dict) -> Iterator[dict]:
        """The payload itself, or nothing."""
        known = self.__dict__.get("_known")
        if known is None:
            known = set(map(str, (read_reference(self.config.reference).get("uuid_map") or {})))
            self.__dict__["_known"] = known
        if str(payload.get(self.config.uuid_field)) in known:
            yield payload

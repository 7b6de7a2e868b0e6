"""Shared columns: the per-series columns of frames with series ids, kept once in a JetStream key-value bucket.

Under one model the rows of a series id agree on every column but the value and the timestamp (karez.frames), and a
site polls the same series in the same task batches round after round. So a durable publisher of compact frames puts
a frame's other columns (a data-point path is about 70 of a record's 100 bytes) into the bucket `KAREZ_SHARED_COLUMNS`
once, under a key that hashes them, and publishes frames that carry the values, timestamps and ids with the key in
their header. A receiver fetches an entry when it first meets its key and puts the columns back before any role sees
the frame, so roles never know; the columns are then the same list objects frame after frame.

An entry holds the model and ids it was made for, and a receiver refuses a frame whose own differ, instead of
labelling samples with another series' path. Entries are content-addressed: publishers that share the same columns
write the same entry, and an entry is never changed. A publisher writes its entries again every `REWRITE_S` seconds,
so a bucket deleted while the site runs fills up again. Readable frames (`frames: json`) and core NATS never share:
what `nats sub` shows stays complete.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.js.api import KeyValueConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from karez.buckets import open_bucket
from karez.frames import (
    COLUMNS_KEY,
    FRAME_KEY,
    MODEL_KEY,
    PER_SAMPLE,
    SERIES_COLUMN,
    SHARED_KEY,
    FrameError,
    are_series_ids,
    check_columns_present,
    decode_body,
    is_frame,
)

BUCKET = "KAREZ_SHARED_COLUMNS"
MAX_ENTRY_BYTES = 900_000  # below NATS' default max_payload of 1 MiB: a frame whose columns need more carries them
ROWS_REMEMBERED = 1 << 22  # rows of entries a process keeps (a 10^6-point hall's twice over); beyond, it starts again
REWRITE_S = 600.0

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


class SharedColumnsNotFound(LookupError):
    """A frame names shared columns that the bucket does not hold (retried, then dead-lettered when durable)."""


@dataclass(slots=True)
class _Entry:
    key: str
    model: str
    ids: list[int]
    columns: dict[str, list[Any]]
    written_at: float | None = None  # monotonic time of its last write (None: never written)


class SharedColumns:
    """One connection's use of the bucket: the entries it wrote (as a publisher) and fetched (as a receiver)."""

    def __init__(self, js: JetStreamContext, replicas: int = 1) -> None:
        self._js = js
        self._replicas = replicas  # of the bucket, when this one creates it
        self._kv: KeyValue | None = None
        self._written: dict[tuple[str, int, int, tuple[str, ...]], _Entry] = {}  # by (model, first id, rows, names)
        self._entries: dict[str, _Entry] = {}  # written or fetched, by key
        self._rows = 0

    async def _bucket(self) -> KeyValue:
        """The bucket, created (with this publisher's replica count) when missing."""
        if self._kv is None:
            config = KeyValueConfig(bucket=BUCKET, history=1, replicas=self._replicas)
            self._kv, _ = await open_bucket(self._js, config)
        return self._kv

    async def _existing_bucket(self) -> KeyValue:
        """The bucket a publisher made: a receiver never creates it (it would choose the replica count)."""
        if self._kv is None:
            try:
                self._kv = await self._js.key_value(BUCKET)
            except (BucketNotFoundError, NotFoundError):
                raise SharedColumnsNotFound(
                    f"bucket {BUCKET} does not exist: no publisher shared columns here"
                ) from None
        return self._kv

    # ----- publishing -----
    async def share(self, outputs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """Routed outputs with each frame of series ids replaced by one that names its shared columns (written to the
        bucket first when new); a frame fanned out to several subjects stays one object."""
        done: dict[int, Any] = {}
        shared = []
        for subject, item in outputs:
            if is_frame(item):
                new = done.get(id(item))
                if new is None:
                    new = done[id(item)] = await self._shared_frame(item)
                item = new
            shared.append((subject, item))
        return shared

    async def _shared_frame(self, frame: dict[str, Any]) -> dict[str, Any]:
        header, columns = frame[FRAME_KEY], frame[COLUMNS_KEY]
        ids = columns.get(SERIES_COLUMN)
        model = header.get(MODEL_KEY)
        names = tuple(name for name in columns if name not in PER_SAMPLE)
        if not ids or not names or model is None or SHARED_KEY in header:
            return frame
        memo = (model, ids[0], len(ids), names)
        entry = self._written.get(memo)
        if entry is None or entry.ids != ids or any(entry.columns[name] != columns[name] for name in names):
            entry = self._entry(model, ids, {name: columns[name] for name in names})
            if entry is None:
                return frame
            self._remember(entry)
            self._written[memo] = entry
        if entry.written_at is None or time.monotonic() - entry.written_at > REWRITE_S:
            await (await self._bucket()).put(entry.key, _encoder.encode(_wire(entry)))
            entry.written_at = time.monotonic()
        kept = {name: column for name, column in columns.items() if name not in names}
        return {**frame, FRAME_KEY: {**header, SHARED_KEY: entry.key}, COLUMNS_KEY: kept}

    @staticmethod
    def _entry(model: str, ids: list[int], columns: dict[str, list[Any]]) -> _Entry | None:
        """The entry of these columns (not yet written), or None when it would not fit in a message."""
        entry = _Entry("", model, list(ids), columns)
        try:
            body = _encoder.encode(_wire(entry))
        except (OverflowError, TypeError):  # what msgpack cannot carry stays in the frame, which degrades to JSON
            return None
        if len(body) > MAX_ENTRY_BYTES:
            return None
        entry.key = hashlib.blake2b(body, digest_size=16).hexdigest()
        return entry

    # ----- receiving -----
    async def decode(self, data: bytes, headers: Mapping[str, str] | None) -> list[Any]:
        """The items of a message body (karez.frames.decode_body) with their frames' shared columns put back: what a
        program reading frame messages from NATS itself, not through a role, calls."""
        return await self.restore(decode_body(data, headers))

    async def restore(self, items: list[Any]) -> list[Any]:
        """Decoded items with every frame's shared columns put back (fetched once per key); FrameError for a frame
        that does not match its entry, SharedColumnsNotFound for an entry the bucket does not hold."""
        restored = []
        for item in items:
            if is_frame(item) and SHARED_KEY in item[FRAME_KEY]:
                item = await self._restored(item)
            restored.append(item)
        return restored

    async def _restored(self, frame: dict[str, Any]) -> dict[str, Any]:
        header, columns = frame[FRAME_KEY], frame[COLUMNS_KEY]
        key = header[SHARED_KEY]
        entry = self._entries.get(key) or await self._fetch(key)
        schema = header["schema"]
        if entry.model != header.get(MODEL_KEY) or entry.ids != columns[SERIES_COLUMN]:
            raise FrameError(f"frame of {schema}: its series ids or model differ from those of shared columns {key}")
        clash = entry.columns.keys() & columns.keys()
        if clash:
            raise FrameError(f"frame of {schema} carries column(s) {', '.join(sorted(clash))} it also shares")
        restored = _with_columns(frame, entry)
        check_columns_present(restored)
        return restored

    async def _fetch(self, key: str) -> _Entry:
        try:
            found = await (await self._existing_bucket()).get(key)
        except KeyNotFoundError:
            raise SharedColumnsNotFound(f"bucket {BUCKET} holds no shared columns {key}") from None
        entry = _read_entry(key, found.value or b"")
        self._remember(entry)
        return entry

    def _remember(self, entry: _Entry) -> None:
        if self._rows + len(entry.ids) > ROWS_REMEMBERED:
            self._written.clear()
            self._entries.clear()
            self._rows = 0
        self._entries[entry.key] = entry
        self._rows += len(entry.ids)

    def unshared(self, frame: dict[str, Any]) -> dict[str, Any]:
        """A frame this process shared, whole again (to be cut into smaller frames: a cut cannot name the entry)."""
        entry = self._entries.get(frame[FRAME_KEY][SHARED_KEY])
        if entry is None:
            raise FrameError(f"frame of {frame[FRAME_KEY]['schema']}: its shared columns are no longer in memory")
        return _with_columns(frame, entry)


def _with_columns(frame: dict[str, Any], entry: _Entry) -> dict[str, Any]:
    """A shared frame with its entry's columns put back and its header no longer naming the entry."""
    header = {name: value for name, value in frame[FRAME_KEY].items() if name != SHARED_KEY}
    return {**frame, FRAME_KEY: header, COLUMNS_KEY: {**frame[COLUMNS_KEY], **entry.columns}}


def _wire(entry: _Entry) -> dict[str, Any]:
    return {MODEL_KEY: entry.model, SERIES_COLUMN: entry.ids, COLUMNS_KEY: entry.columns}


def _read_entry(key: str, body: bytes) -> _Entry:
    """The entry stored under `key`; FrameError when it is not one."""
    try:
        value = _decoder.decode(body)
        model, ids, columns = value[MODEL_KEY], value[SERIES_COLUMN], value[COLUMNS_KEY]
    except (msgspec.DecodeError, TypeError, KeyError) as e:
        raise FrameError(f"bucket {BUCKET}: entry {key} is not shared columns ({e})") from None
    well_formed = (
        model.__class__ is str
        and ids.__class__ is list
        and are_series_ids(ids)
        and columns.__class__ is dict
        and all(column.__class__ is list and len(column) == len(ids) for column in columns.values())
    )
    if not well_formed:
        raise FrameError(f"bucket {BUCKET}: entry {key} is not shared columns (model, ids and columns of their length)")
    return _Entry(key, model, ids, columns)

"""Line protocol of frames' rows: the kernel the `influx_line_protocol` converter and line-protocol writers share.

Each series' line head (`measurement,tags field=`) is made once from a row and remembered, by series id when the
frame has ids (they mean something per model, so per frame schema and model), else by the row's other columns when
they are all text, and a frame whose id column is one seen before (a task's, round after round) takes that column's
heads whole; then the value and timestamp columns are formatted whole (`column_text`, else `column_lines`).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from karez.frames import COLUMNS_KEY, FRAME_KEY, SERIES_COLUMN, rows_with_meta, series_ids
from line_protocol_text import ItemLineEncoder, column_lines, column_text

__all__ = ["FrameLineEncoder", "FrameLines"]

NAMESPACES_REMEMBERED = 16  # (schema, model) pairs whose heads are kept at a time; a runaway stream must not grow it
# heads kept per (schema, model): every series of a 10^6-point hall (~250 bytes each). A bound smaller than the site
# clears the heads over and over: with 262,144, a 10^6-point hall cost influx_writer 21 µs per point
HEADS_REMEMBERED = 1 << 21

RowError = tuple[int, Exception]


class FrameLines:
    """A frame's line protocol: `text` (its lines joined by newlines) or `lines`, how many there are, and the rows
    that could not be written (row index, error)."""

    __slots__ = ("count", "failed", "lines", "text")

    def __init__(self, text: str | None, lines: list[str], count: int, failed: list[RowError]) -> None:
        self.text = text
        self.lines = lines
        self.count = count
        self.failed = failed

    def joined(self) -> str:
        """The lines as one newline-separated text."""
        return self.text if self.text is not None else "\n".join(self.lines)


class FrameLineEncoder:
    """Line protocol of frame rows for one measurement and field selection, with each series' head remembered."""

    def __init__(self, measurement: str, field_name: str | None, field_value: str) -> None:
        self.field_value = field_value
        self.items = ItemLineEncoder(measurement, field_name, field_value)
        self._heads: dict[tuple[str, str | None], dict[Any, str]] = {}  # (schema, model) -> series key -> head
        # a whole id column's heads, by ((schema, model), rows, first id): a task's frames repeat their ids, so one
        # comparison of the column replaces a lookup per row
        self._columns: dict[tuple[Any, ...], tuple[list[int], list[str]]] = {}
        self._column_rows = 0

    def can_encode(self, frame: dict[str, Any]) -> bool:
        """Whether the frame has the value and timestamp columns (else its rows as items say what is wrong)."""
        columns = frame[COLUMNS_KEY]
        return self.field_value in columns and "timestamp" in columns

    def encode(self, frame: dict[str, Any]) -> FrameLines:
        """The lines of a frame's rows (`can_encode` must hold); a row without a head or a writable value is in
        `failed`, the others are written."""
        columns = frame[COLUMNS_KEY]
        ids = series_ids(frame)
        namespace = (frame[FRAME_KEY]["schema"], ids[0] if ids is not None else None)
        cache = self._cache(namespace)
        keys: list[Any] = ids[1] if ids is not None else self._row_keys(columns)
        column_key = (namespace, len(keys), keys[0]) if ids is not None and keys else None
        known = self._columns.get(column_key) if column_key is not None else None
        reused = known is not None and known[0] == keys
        if reused:
            heads: list[str | None] = known[1]  # type: ignore[index, assignment]  # reused: known is not None
        else:
            try:
                heads = list(map(cache.get, keys))
            except TypeError:  # an unhashable column value: no remembered heads for this frame
                heads = [None] * len(keys)
        failed: list[RowError] = []
        if not reused and None in heads:
            missing = [i for i, head in enumerate(heads) if head is None]
            if len(cache) + len(missing) > HEADS_REMEMBERED:
                cache.clear()
            for i, row in zip(missing, rows_with_meta(frame, missing), strict=True):
                try:
                    heads[i] = head = self.items.head(row, remember=False)  # kept here, by series key
                except Exception as e:
                    failed.append((i, e))
                    continue
                # by id, or by the row's columns when all are text: 1, 1.0 and True are equal keys but differ in text
                if ids is not None or all(type(v) is str or v is None for v in keys[i]):
                    cache[keys[i]] = head
        if column_key is not None and not reused and not failed:
            self._remember_column(column_key, keys, heads)  # type: ignore[arg-type]  # every row has its head
        values, stamps = columns[self.field_value], columns["timestamp"]
        rows: range | list[int] = range(len(heads))
        if failed:
            rows = [i for i, head in enumerate(heads) if head is not None]
            heads = [heads[i] for i in rows]
            values, stamps = [values[i] for i in rows], [stamps[i] for i in rows]
        text = column_text(heads, values, stamps)  # type: ignore[arg-type]  # rows without a head were left out
        if text is not None:
            return FrameLines(text, [], len(heads), failed)
        lines, unwritten = column_lines(heads, values, stamps)  # type: ignore[arg-type]
        failed += ((rows[at], error) for at, error in unwritten)
        return FrameLines(None, lines, len(lines), sorted(failed, key=itemgetter(0)))

    def _remember_column(self, key: tuple[Any, ...], ids: list[int], heads: list[str]) -> None:
        """Keep a frame's id column with its heads, for the next frame with the same ids (a task's, round after
        round); the columns kept hold no more rows than the heads."""
        if self._column_rows + len(ids) > HEADS_REMEMBERED:
            self._columns.clear()
            self._column_rows = 0
        self._columns[key] = (ids.copy(), heads)  # a copy: the frame's column is not ours to keep
        self._column_rows += len(ids)

    def _row_keys(self, columns: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
        """Each row's series key without ids: its columns other than the value and the timestamp."""
        leave_out = (self.field_value, "timestamp", SERIES_COLUMN)
        return list(zip(*(column for name, column in columns.items() if name not in leave_out), strict=True))

    def _cache(self, namespace: tuple[str, str | None]) -> dict[Any, str]:
        cache = self._heads.get(namespace)
        if cache is None:
            if len(self._heads) >= NAMESPACES_REMEMBERED:
                self._heads.clear()
            cache = self._heads[namespace] = {}
        return cache

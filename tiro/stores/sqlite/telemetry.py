"""The embedded telemetry store on sqlite (standard library): WAL, batched idempotent writes, latest and history reads.

Layout: `telemetry_paths` (one row per data-point path with its type path, asset path, category, name and unit),
`telemetry_latest` (series id -> timestamp of its newest sample) and `telemetry_samples` keyed by (nanosecond
timestamp, series id), WITHOUT ROWID: a replayed sample replaces itself, new samples append at the end of the tree
(measured 2.5x faster than series-major keys), time ranges are key range scans and the latest value is one key lookup
per series. The view `telemetry_series` shows paths with `last_ns` as the earlier one-table layout did; a file of that
layout is migrated by `bootstrap`.
Timestamps are keyed in nanoseconds computed like the line protocol (`int(seconds * 1e9)`), so `write_records` and
`write_lines` of the same data store the same rows.
Values keep their Python type: int, float and str natively, bools and anything else (dicts, huge ints) with a kind tag.
Writes bind many rows per statement (`rows.MultiRowInsert`) and update the latest timestamps of a whole batch in
one statement: per-statement overhead, not b-tree work, was most of the cost of `executemany`.

`database.SqliteDatabase` (connections, pragmas, locking) is shared with the graph store of the same file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from tiro.stores.base import AGGREGATIONS, BootstrapReport, Sample, TelemetryStore
from tiro.stores.sqlite.codec import INT64, decode_value, encode_value
from tiro.stores.sqlite.database import SqliteDatabase
from tiro.stores.sqlite.rows import MultiRowInsert
from tiro.stores.sqlite.schema import ensure_telemetry_schema
from tiro.stores.sqlite.transactions import transaction
from tiro_models.errors import SnapshotError
from tiro_models.line_protocol import parse_many, timestamp_ns
from tiro_models.paths import asset_type_path, compile_pattern
from tiro_models.records import record_point
from tiro_models.series import SeriesMemory
from tiro_models.spec import CATEGORIES

__all__ = ["SqliteTelemetryStore"]

_UPSERT_SERIES = MultiRowInsert(
    "INSERT INTO telemetry_paths (dp_path, type_path, asset_path, category, name, unit)",
    width=6,
    tail="ON CONFLICT (dp_path) DO UPDATE SET unit = excluded.unit",
)
_SERIES_IDS = "SELECT dp_path, id FROM telemetry_paths WHERE dp_path IN (SELECT value FROM json_each(?))"
# plain values leave `kind` NULL: rows of three bind measured about twice as fast as rows of four
_INSERT_PLAIN = MultiRowInsert("INSERT OR REPLACE INTO telemetry_samples (series, ts_ns, value)", width=3)
_INSERT_TAGGED = MultiRowInsert("INSERT OR REPLACE INTO telemetry_samples (series, ts_ns, value, kind)", width=4)
# one statement for the newest timestamp of every series in the batch, given as a JSON object {series id: ts_ns};
# a narrow table of its own: measured cheaper to upsert (and to commit) than a column of the wide series rows
_UPDATE_LATEST = (
    "INSERT INTO telemetry_latest (series, ts_ns) SELECT CAST(j.key AS INTEGER), j.value FROM json_each(?1) j WHERE 1"
    " ON CONFLICT (series) DO UPDATE SET ts_ns = excluded.ts_ns WHERE excluded.ts_ns > telemetry_latest.ts_ns"
)
# the same two writes for rows of epoch seconds (the usual batch): sqlite computes the nanoseconds
_TO_NS = "CAST(? * 1e9 AS INTEGER)"
_INSERT_SECONDS = MultiRowInsert(
    "INSERT OR REPLACE INTO telemetry_samples (series, ts_ns, value)", width=3, row=f"(?, {_TO_NS}, ?)"
)
_UPDATE_LATEST_SECONDS = MultiRowInsert(
    "INSERT INTO telemetry_latest (series, ts_ns)",
    width=2,
    row=f"(?, {_TO_NS})",
    tail="ON CONFLICT (series) DO UPDATE SET ts_ns = excluded.ts_ns WHERE excluded.ts_ns > telemetry_latest.ts_ns",
)
_PRUNE_EVERY = 60.0
_PRUNE = (
    "DELETE FROM telemetry_samples WHERE ts_ns < ?1 AND NOT EXISTS (SELECT 1 FROM telemetry_latest l"
    " WHERE l.series = telemetry_samples.series AND l.ts_ns = telemetry_samples.ts_ns)"
)
_FLOAT = {float}
_PLAIN = frozenset((float, str, type(None)))  # values stored as they are, with no kind tag
_MAX_SECONDS = 9.2e9  # epoch seconds whose nanoseconds surely fit sqlite's 64-bit integers (2**63 ns ≈ 9.22e9 s)


def _record_error(record: Any, exc: Exception) -> SnapshotError:
    """The SnapshotError for a record the store refuses, starting with its data-point path (or the record itself)."""
    if not isinstance(record, Mapping):
        return SnapshotError(f"record {record!r}"[:200] + ": not a mapping of data-point keys")
    try:
        where = f"{record['asset_path']}.{record['type']}.{record['field']}"
    except KeyError:
        where = f"record {dict(record)!r}"[:200]
    if isinstance(exc, SnapshotError):
        return exc if exc.message.startswith(where) else SnapshotError(f"{where}: {exc.message}")
    if isinstance(exc, OverflowError | ValueError):  # inf, NaN, or beyond sqlite's 64-bit nanoseconds
        return SnapshotError(f"{where}: timestamp {record.get('timestamp')!r} is out of range")
    return SnapshotError(f"{where}: {type(exc).__name__}: {exc}")


def _with_kinds(rows: list[Any], kinds: dict[int, str]) -> list[Any]:
    """Rows of three values widened to four with their kind tags (a batch with odd values keeps its row order)."""
    wide: list[Any] = []
    for i in range(0, len(rows), 3):
        wide.extend((rows[i], rows[i + 1], rows[i + 2], kinds.get(i // 3)))
    return wide


class SqliteTelemetryStore(TelemetryStore):
    """Telemetry in a sqlite file (`path`) or in memory (`path=None`); `retention` seconds prunes older samples."""

    def __init__(
        self, path: str | None = None, *, retention: float | None = None, database: SqliteDatabase | None = None
    ) -> None:
        self.db = database or SqliteDatabase(path)
        self.retention = retention
        self._series: dict[tuple[Any, Any, Any], tuple[int, str | None]] = {}  # (asset, category, name) -> id, unit
        self._ids: dict[tuple[Any, Any, Any, Any], int] = {}  # (asset, category, name, unit) -> id: the hot lookup
        self._dp_ids: dict[tuple[Any, Any], int] = {}  # (data-point path, unit) -> id: the lookup of sample columns
        # model fingerprint -> its series ids -> id here: the same lookup by the ids frames carry, learned from
        # the paths, forgotten when a series changes unit (an id of a model always names one path and unit)
        self._model_ids: SeriesMemory[int] = SeriesMemory()
        self._ready = False
        self._pruned_at = 0.0

    # ----- setup -----
    def bootstrap(self) -> BootstrapReport:
        """Create the tables and indexes if missing, migrate the earlier layout (and prune by retention); idempotent."""
        report = BootstrapReport(store=self.db.describe())
        with self.db.lock:
            created, changed = ensure_telemetry_schema(self.db.writer, self.db.describe())
            report.created.extend(created)
            report.changed.extend(changed)
            self._load_series()
            self._ready = True
            if self.retention is not None:
                removed = self.prune()
                if removed:
                    report.removed.append(f"{removed} samples older than the retention of {self.retention:g} s")
        return report

    def _ensure_ready(self) -> None:
        if not self._ready:
            self.bootstrap()

    def _load_series(self) -> None:
        rows = self.db.writer.execute("SELECT asset_path, category, name, id, unit FROM telemetry_paths").fetchall()
        self._series = {(asset, category, name): (sid, unit) for asset, category, name, sid, unit in rows}
        self._ids = {(*key, unit): sid for key, (sid, unit) in self._series.items()}
        self._dp_ids = {(".".join(key), unit): sid for key, (sid, unit) in self._series.items()}
        self._model_ids.forget()

    def prune(self, now: float | None = None) -> int:
        """Delete samples older than the retention but each series' newest; returns how many (0 without a retention).

        The newest sample stays however old: it is the series' latest value, which the graph of the same file reads."""
        if self.retention is None:
            return 0
        now = time.time() if now is None else now
        cutoff = int((now - self.retention) * 1e9)
        with self.db.lock:
            cur = self.db.writer.execute(_PRUNE, (cutoff,))
            self._pruned_at = now
            return cur.rowcount

    # ----- writing -----
    @staticmethod
    def _series_row(record: Mapping[str, Any], unit: str | None) -> tuple[str, str, Any, Any, Any, Any]:
        """The telemetry_paths row of a new series (its shape checked once, so the store never holds paths it cannot
        query by pattern): dp path, type path, asset path, category, name, unit."""
        asset_path = record["asset_path"]
        name = record["field"]
        category = record["type"]
        dp_path = f"{asset_path}.{category}.{name}"
        try:
            own_type_path = asset_type_path(asset_path) if isinstance(asset_path, str) and asset_path else None
        except SnapshotError as exc:
            raise SnapshotError(f"{dp_path}: {exc.message}") from None
        if own_type_path is None or category not in CATEGORIES or not isinstance(name, str) or not name:
            raise SnapshotError(f"{dp_path}: not a data-point record (asset path, {'/'.join(CATEGORIES)}, name)")
        if unit is not None and not isinstance(unit, str):
            raise SnapshotError(f"{dp_path}: unit {unit!r} is not text")
        type_path = record.get("path") or f"{own_type_path}.{name}"
        return (dp_path, type_path, asset_path, category, name, unit)

    def _create_series(
        self, cur: sqlite3.Cursor, pending: dict[tuple[Any, Any, Any], tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], int]:
        """Upsert the batch's new series (or new units) and remember their ids."""
        _UPSERT_SERIES.execute(cur, [v for row in pending.values() for v in row])
        ids = dict(cur.execute(_SERIES_IDS, (orjson.dumps([row[0] for row in pending.values()]).decode(),)))
        created = {}
        for key, row in pending.items():
            created[key] = sid = ids[row[0]]
            before = self._series.get(key)
            if before is not None:
                self._ids.pop((*key, before[1]), None)
                self._dp_ids.pop((row[0], before[1]), None)
                self._model_ids.forget()
            self._series[key] = (sid, row[5])
            self._ids[(*key, row[5])] = sid
            self._dp_ids[(row[0], row[5])] = sid
        return created

    def write_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Write flat records in one transaction; a replayed (series, timestamp) replaces the stored sample."""
        return len(self._write(records, from_lines=False))

    def write_records_series(self, records: Iterable[Mapping[str, Any]]) -> list[int]:
        """`write_records`, returning the series id of each record (in order) for the graph store of the file."""
        return self._write(records, from_lines=False)

    def write_sample_columns(
        self,
        paths: list[Any],
        stamps: list[Any],
        values: list[Any],
        units: list[Any],
        series: tuple[str, list[int]] | None = None,
    ) -> list[int] | None:
        """Write samples given as columns (data-point path, epoch seconds, value, unit; optionally their series ids
        in a model) in one transaction and return their series ids here; None, writing nothing, unless every sample is
        of a known series and the usual kind (see `_plain_rows`): the caller then writes them as records, which
        creates series and reports bad samples."""
        self._ensure_ready()
        sids: list[Any] | None = self._sids_of_model(series) if series is not None else None
        if sids is None:
            try:
                sids = list(map(self._dp_ids.get, zip(paths, units, strict=True)))
            except TypeError:  # an unhashable unit
                return None
            if series is not None and None not in sids:
                self._learn_model_ids(series, sids)
        plain = None if None in sids else self._plain_columns(sids, stamps, values)
        if plain is None:
            return None
        with self.db.lock:
            cur = self.db.writer.cursor()
            with transaction(cur, "BEGIN"):
                self._write_plain(cur, *plain)
        self._wrote()
        return sids

    def _sids_of_model(self, series: tuple[str, list[int]]) -> list[Any] | None:
        """The ids here of a model's series ids, when every one is known."""
        return self._model_ids.lookup(*series)

    def _learn_model_ids(self, series: tuple[str, list[int]], sids: list[int]) -> None:
        self._model_ids.learn(series[0], zip(series[1], sids, strict=True))

    def _write_plain(self, cur: sqlite3.Cursor, rows: list[Any], last_seconds: dict[int, float]) -> None:
        _INSERT_SECONDS.execute(cur, rows)
        _UPDATE_LATEST_SECONDS.execute(cur, [v for pair in last_seconds.items() for v in pair])

    def _wrote(self) -> None:
        """After a committed write: note it, and prune by retention now and then."""
        self.db.wrote()
        if self.retention is not None and time.time() - self._pruned_at > _PRUNE_EVERY:
            self.prune()

    def _write(self, records: Iterable[Mapping[str, Any]], *, from_lines: bool) -> list[int]:
        """Write in one transaction; the series id of each stored sample, in order."""
        self._ensure_ready()
        with self.db.lock:
            cur = self.db.writer.cursor()
            try:
                with transaction(cur, "BEGIN"):
                    plain = None if from_lines or type(records) is not list else self._plain_rows(records)
                    if plain is not None:
                        rows = plain[0]
                        self._write_plain(cur, *plain)
                    else:
                        rows, kinds, last = self._rows(cur, records, from_lines)
                        if kinds:
                            _INSERT_TAGGED.execute(cur, _with_kinds(rows, kinds))
                        else:
                            _INSERT_PLAIN.execute(cur, rows)
                        if last:
                            cur.execute(_UPDATE_LATEST, (orjson.dumps(last, option=orjson.OPT_NON_STR_KEYS),))
            except BaseException:
                self._load_series()  # ids handed out inside the rolled-back transaction are gone
                raise
        self._wrote()
        return rows[0::3]

    def _rows(
        self, cur: sqlite3.Cursor, records: Iterable[Mapping[str, Any]], from_lines: bool
    ) -> tuple[list[Any], dict[int, str], dict[int, int]]:
        """Flat (series, ts_ns, value) values of the records, the kind tags of odd values by row, the newest ts_ns
        per series.

        The hot loop of every write: known series, float timestamps and float or text values take the shortest path.
        """
        series = self._series
        rows: list[Any] = []
        extend = rows.extend
        kinds: dict[int, str] = {}
        last: dict[Any, int] = {}  # by series id; by series key for the series created after the loop
        get_last = last.get
        sid: Any  # a series id, or the key of a series created after the loop
        ts_ns: Any
        lowest, highest = INT64
        before_all = lowest - 1
        now_ns: int | None = None
        record: Any = None
        pending: dict[tuple[Any, Any, Any], tuple[Any, ...]] = {}  # new series (or units): created after the loop
        holes: list[int] = []  # where `rows` holds a new series' key in place of its id
        try:
            for record in records:
                try:
                    key = (record["asset_path"], record["type"], record["field"])
                    known = series.get(key)
                except KeyError:
                    record_point(record)  # raises the SnapshotError that names the record and the key
                    raise
                except TypeError:  # unhashable parts: _series_row refuses them by name
                    self._series_row(record, record.get("unit"))
                    raise
                unit = record.get("unit")
                if known is not None and known[1] == unit:
                    sid = known[0]
                else:
                    new = pending.get(key)
                    if new is None or new[5] != unit:
                        pending[key] = self._series_row(record, unit)
                    sid = key
                    holes.append(len(rows))
                ts = record.get("timestamp")
                if type(ts) is float and -_MAX_SECONDS < ts < _MAX_SECONDS:  # the preprocess output: the short path
                    ts_ns = int(ts * 1e9)
                else:
                    ts_ns = ts if from_lines and type(ts) is int else timestamp_ns(ts)
                    if ts_ns is None:
                        if now_ns is None:
                            now_ns = time.time_ns()
                        ts_ns = now_ns
                    if not lowest <= ts_ns <= highest:
                        raise OverflowError("timestamp out of range")
                if ts_ns > get_last(sid, before_all):
                    last[sid] = ts_ns
                value = record.get("value")
                cls = type(value)
                if cls is not float and cls is not str:
                    value, kind = encode_value(value)
                    if kind is not None:
                        kinds[len(rows) // 3] = kind
                extend((sid, ts_ns, value))
        except (SnapshotError, ValueError, OverflowError, TypeError, AttributeError) as exc:
            raise _record_error(record, exc) from None
        if pending:
            created = self._create_series(cur, pending)
            for pos in holes:
                rows[pos] = created[rows[pos]]
            for key, sid in created.items():
                ts_ns = last.pop(key, None)
                if ts_ns is not None and ts_ns > get_last(sid, before_all):
                    last[sid] = ts_ns
        return rows, kinds, last

    def _plain_rows(self, records: list[Any]) -> tuple[list[Any], dict[int, float]] | None:
        """Flat (series, epoch seconds, value) values and the newest seconds per series of the usual batch, or None
        when any record is not the usual kind: a new series or unit, a timestamp that is not a float in range, a value
        that is not a float, text or None. The record-by-record loop of `_rows` then handles (and reports) them all.

        A few comprehensions and C-level list work, and sqlite turns the seconds into nanoseconds as it binds them
        (the same IEEE product and truncation as `int(ts * 1e9)`): about half the time of the loop."""
        ids = self._ids.get
        try:
            sids: list[Any] = [ids((r["asset_path"], r["type"], r["field"], r.get("unit"))) for r in records]
            stamps = [r.get("timestamp") for r in records]
            values = [r.get("value") for r in records]
        except (KeyError, TypeError, AttributeError):
            return None
        return None if None in sids else self._plain_columns(sids, stamps, values)

    @staticmethod
    def _plain_columns(
        sids: list[Any], stamps: list[Any], values: list[Any]
    ) -> tuple[list[Any], dict[int, float]] | None:
        """`_plain_rows` of samples given as columns of series ids, timestamps and values."""
        if not sids or set(map(type, stamps)) != _FLOAT or not _PLAIN.issuperset(map(type, values)):
            return None
        total = sum(stamps)
        if total != total or not (min(stamps) > -_MAX_SECONDS and max(stamps) < _MAX_SECONDS):  # NaN, ±inf, too far
            return None
        rows: list[Any] = [None] * (3 * len(sids))
        rows[0::3] = sids
        rows[1::3] = stamps
        rows[2::3] = values
        newest = dict(zip(sids, stamps, strict=True))
        if len(newest) == len(sids):  # the usual batch: one sample per series, which is its newest
            return rows, newest
        last: dict[int, float] = {}
        for sid, ts in zip(sids, stamps, strict=True):
            if ts > last.get(sid, -_MAX_SECONDS):
                last[sid] = ts
        return rows, last

    def write_lines(self, lines: Iterable[str]) -> int:
        """Write line-protocol lines (one point per field; tags `asset_path`, `type`, `path`, `unit` as Tiro writes)."""
        text = lines if isinstance(lines, str) else "\n".join(lines)
        try:
            parsed = parse_many(text)
        except ValueError as exc:
            raise SnapshotError(str(exc)) from None
        records = []
        for _measurement, tags, fields, ts_ns in parsed:
            asset_path = tags.get("asset_path")
            category = tags.get("type")
            if not asset_path or not category:
                raise SnapshotError(f"line protocol point {fields!r} has no asset_path/type tags: not Tiro telemetry")
            for name, value in fields.items():
                records.append(
                    {
                        "path": tags.get("path") if len(fields) == 1 else None,
                        "asset_path": asset_path,
                        "type": category,
                        "field": name,
                        "value": value,
                        "timestamp": ts_ns,
                        "unit": tags.get("unit"),
                    }
                )
        return len(self._write(records, from_lines=True))

    # ----- reading -----
    def _series_filter(self, pattern: str | None) -> tuple[str, tuple[Any, ...]]:
        """SQL condition on `s` (a telemetry_paths alias) selecting the pattern's type paths."""
        if pattern is None:
            return "1", ()
        fullmatch = compile_pattern(pattern).fullmatch
        type_paths = [tp for (tp,) in self.db.read("SELECT DISTINCT type_path FROM telemetry_paths") if fullmatch(tp)]
        return "s.type_path IN (SELECT value FROM json_each(?))", (orjson.dumps(type_paths).decode(),)

    def latest(self, pattern: str | None = None) -> dict[str, Sample]:
        """The newest sample per data-point path whose type path matches the %-pattern (all when None)."""
        self._ensure_ready()
        where, params = self._series_filter(pattern)
        rows = self.db.read(
            "SELECT s.dp_path, v.value, v.kind, v.ts_ns, s.unit FROM telemetry_paths s"  # CROSS: paths, then lookups
            " CROSS JOIN telemetry_latest l ON l.series = s.id"
            " CROSS JOIN telemetry_samples v ON v.ts_ns = l.ts_ns AND v.series = s.id"
            f" WHERE {where} ORDER BY s.dp_path",
            params,
        )
        return {path: Sample(decode_value(value, kind), ts / 1e9, unit) for path, value, kind, ts, unit in rows}

    def history(
        self,
        pattern: str,
        *,
        since: float,
        until: float | None = None,
        step: float | None = None,
        agg: str = "mean",
    ) -> dict[str, list[tuple[float, Any]]]:
        """Samples per data-point path in [since, until); with `step`, one value per epoch-aligned bucket start."""
        if agg not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {agg!r}: use one of {', '.join(AGGREGATIONS)}")
        if step is not None and not step > 0:
            raise ValueError(f"step must be a positive number of seconds, got {step!r}")
        self._ensure_ready()
        where, params = self._series_filter(pattern)
        lo = int(since * 1e9)
        hi = int(until * 1e9) if until is not None else 2**63 - 1
        out: dict[str, list[tuple[float, Any]]] = {}
        if step is None:
            rows = self.db.read(
                "SELECT s.dp_path, v.ts_ns, v.value, v.kind FROM telemetry_samples v"
                " CROSS JOIN telemetry_paths s ON s.id = v.series"  # CROSS: scan the time range, look series up
                f" WHERE v.ts_ns >= ? AND v.ts_ns < ? AND {where} ORDER BY s.dp_path, v.ts_ns",
                (lo, hi, *params),
            )
            for path, ts, value, kind in rows:
                out.setdefault(path, []).append((ts / 1e9, decode_value(value, kind)))
            return out
        step_ns = round(step * 1e9)
        if step_ns <= 0:
            raise ValueError(f"step {step!r} is below one nanosecond")
        if agg == "last":
            # sqlite takes bare columns from the row that holds MAX(): the newest sample of each bucket.
            select = "MAX(v.ts_ns), v.value, v.kind"
            numeric = ""
        else:
            select = f"{agg.upper() if agg != 'mean' else 'AVG'}(v.value), NULL"
            numeric = " AND v.kind IS NULL AND typeof(v.value) IN ('integer', 'real')"
        rows = self.db.read(
            f"SELECT s.dp_path, (v.ts_ns / ?) * ? AS bucket, {select} FROM telemetry_samples v"
            " CROSS JOIN telemetry_paths s ON s.id = v.series"
            f" WHERE v.ts_ns >= ? AND v.ts_ns < ?{numeric} AND {where} GROUP BY s.dp_path, bucket"
            " ORDER BY s.dp_path, bucket",
            (step_ns, step_ns, lo, hi, *params),
        )
        for row in rows:
            path, bucket = row[0], row[1]
            value = decode_value(row[3], row[4]) if agg == "last" else row[2]
            out.setdefault(path, []).append((bucket / 1e9, value))
        return out

    def close(self) -> None:
        """Close the database connections."""
        self.db.close()

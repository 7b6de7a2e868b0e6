"""The embedded graph store on sqlite: assets keyed by asset path, parent links, data points with their latest value.

Same model as the Arango layout (tiro-upstream §5, path-qualified as tiro_models.graph_docs): vertex "collections" are
the model's slot names (recorded in `graph_collections`), an asset row is a vertex whose `parent` column is its
`is_parent_of` edge (every asset has exactly one parent, "" being the root `Scenario/000`), and a data-point document
is a `graph_dps` row (paths; its `asset_path` is its `has_data_point` edge) plus its `graph_values` row (value, kind,
unit, timestamp) under the same id; the view `graph_points` joins them. Views `is_parent_of` and `has_data_point` expose
the edges in Arango's `_from`/`_to` form. A point keeps the sample with the newest timestamp, so replays are harmless.


A point's value is the newer of its `graph_values` row and the newest sample of the same path in the file's telemetry
tables (`schema.newest_sample`; on equal timestamps telemetry's). A graph store linked to the
telemetry store of its file (`telemetry=`, what `tiro_store` opens for a sqlite URL) writes each sample once, as
telemetry, and adds only assets and data points of its own: the graph then costs nothing per sample. The graph creates
the telemetry tables of its file for that (empty unless something writes telemetry).

Writes of a graph store on its own: the latest values live in a narrow table because a telemetry stream rewrites them
all the time (measured twice as fast as upserting wide path-keyed rows). A batch writes only the newest sample per
point, in one multi-row upsert, and a store skips what it knows it wrote: assets, and samples not newer than its last
one. That knowledge lasts while the `topology` counter in `graph_meta` stays the same; a sync that removes anything
bumps it.

Freshness (`max_age`) applies to Telemetry only: attributes are static and always count as present.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from tiro.stores.base import BootstrapReport, GraphStore, Sample
from tiro.stores.sqlite.codec import decode_value, encode_value
from tiro.stores.sqlite.database import SqliteDatabase
from tiro.stores.sqlite.rows import MultiRowInsert
from tiro.stores.sqlite.schema import ensure_telemetry_schema, newest_sample
from tiro.stores.sqlite.telemetry import SqliteTelemetryStore
from tiro.stores.sqlite.transactions import transaction
from tiro_models.errors import SnapshotError
from tiro_models.graph_docs import EDGE_COLLECTIONS, ROOT_COLLECTION, ROOT_KEY, collections_for_model
from tiro_models.line_protocol import epoch_seconds
from tiro_models.paths import asset_pairs, compile_pattern
from tiro_models.qpath import QNode, QPath, parse_qpath
from tiro_models.records import record_point
from tiro_models.spec import ATTRIBUTE, CATEGORIES, PATH_SEP, Instances, Model

__all__ = ["SqliteGraphStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS graph_collections (name TEXT PRIMARY KEY, kind TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph_assets (
    path TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    type_path TEXT NOT NULL,
    parent TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS graph_assets_type_path ON graph_assets (type_path);
CREATE INDEX IF NOT EXISTS graph_assets_parent ON graph_assets (parent, type_path);
CREATE TABLE IF NOT EXISTS graph_dps (
    id INTEGER PRIMARY KEY,
    dp_path TEXT NOT NULL UNIQUE,
    asset_path TEXT NOT NULL,
    category TEXT NOT NULL,
    name TEXT NOT NULL,
    type_path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS graph_dps_asset ON graph_dps (asset_path);
CREATE INDEX IF NOT EXISTS graph_dps_type_path ON graph_dps (type_path);
CREATE TABLE IF NOT EXISTS graph_values (id INTEGER PRIMARY KEY, value, kind TEXT, unit TEXT, ts REAL)"""

# the value columns of a data point `p`: its graph_values row `v` or the newest telemetry sample of its path,
# whichever is newer (telemetry on equal timestamps: nanoseconds compared as the telemetry store computes them)
_NEWEST = newest_sample("p.dp_path")
_VALUE_JOINS = " LEFT JOIN graph_values v ON v.id = p.id" + _NEWEST.joins
_TELEMETRY_NEWER = f"{_NEWEST.ts_ns} IS NOT NULL AND (v.ts IS NULL OR {_NEWEST.ts_ns} >= CAST(v.ts * 1e9 AS INTEGER))"
_VALUE, _KIND, _UNIT, _TS = (
    f"CASE WHEN {_TELEMETRY_NEWER} THEN {telemetry} ELSE {graph} END"
    for telemetry, graph in (
        (_NEWEST.value, "v.value"),
        (_NEWEST.kind, "v.kind"),
        (_NEWEST.unit, "v.unit"),
        (f"{_NEWEST.ts_ns} / 1e9", "v.ts"),
    )
)
_HAS_VALUE = f"(v.id IS NOT NULL OR {_NEWEST.ts_ns} IS NOT NULL)"
# views for readers of the file (the store's own queries join the tables: a view on the right of a LEFT JOIN is not
# flattened); replaced when their definition changes
_VIEWS = {
    "graph_points": "CREATE VIEW graph_points AS SELECT p.dp_path, p.asset_path, p.category, p.name, p.type_path,"
    f" {_VALUE} AS value, {_KIND} AS kind, {_UNIT} AS unit, {_TS} AS ts FROM graph_dps p{_VALUE_JOINS}"
    f" WHERE {_HAS_VALUE}",
    "is_parent_of": "CREATE VIEW is_parent_of AS"
    f" SELECT CASE parent WHEN '' THEN '{ROOT_COLLECTION}/{ROOT_KEY}' ELSE parent END AS _from,"
    " path AS _to, collection AS next_category FROM graph_assets",
    "has_data_point": "CREATE VIEW has_data_point AS"
    " SELECT asset_path AS _from, dp_path AS _to, name AS next_category FROM graph_points",
}

_INSERT_ASSET = "INSERT OR IGNORE INTO graph_assets (path, collection, name, type_path, parent) VALUES (?, ?, ?, ?, ?)"
_INSERT_ASSETS = MultiRowInsert(
    "INSERT OR IGNORE INTO graph_assets (path, collection, name, type_path, parent)", width=5
)
_INSERT_DPS = MultiRowInsert(
    "INSERT INTO graph_dps (dp_path, asset_path, category, name, type_path)",
    width=5,
    tail="ON CONFLICT (dp_path) DO NOTHING",
)
_DP_IDS = "SELECT dp_path, id FROM graph_dps WHERE dp_path IN (SELECT value FROM json_each(?))"
# The newest sample wins, so a replayed or late older message never overwrites a newer value; a row that would not
# change (a replay of the stored sample) is not written at all.
_UPSERT_VALUES = MultiRowInsert(
    "INSERT INTO graph_values (id, value, kind, unit, ts)",
    width=5,
    tail="ON CONFLICT (id) DO UPDATE SET"
    " value = excluded.value, kind = excluded.kind, unit = excluded.unit, ts = excluded.ts"
    " WHERE graph_values.ts IS NULL OR excluded.ts > graph_values.ts OR (excluded.ts = graph_values.ts AND ("
    "graph_values.value IS NOT excluded.value OR typeof(graph_values.value) IS NOT typeof(excluded.value)"
    " OR graph_values.kind IS NOT excluded.kind OR graph_values.unit IS NOT excluded.unit))",
)
_INSERT_DEFAULT_DP = (
    "INSERT OR IGNORE INTO graph_dps (dp_path, asset_path, category, name, type_path) VALUES (?, ?, ?, ?, ?)"
)
_INSERT_DEFAULT_VALUE = (
    "INSERT OR IGNORE INTO graph_values (id, value, kind, unit, ts)"
    " SELECT id, ?, ?, ?, ? FROM graph_dps WHERE dp_path = ?"
)
# the layout before graph_dps/graph_values: one wide WITHOUT ROWID table graph_points, migrated by the schema check
_MIGRATE_WIDE_POINTS = (
    "DROP VIEW IF EXISTS has_data_point",
    "ALTER TABLE graph_points RENAME TO graph_points_wide",
    *(statement for statement in _SCHEMA.split(";\n") if statement.strip()),  # the tables; views come after
    "INSERT INTO graph_dps (dp_path, asset_path, category, name, type_path)"
    " SELECT dp_path, asset_path, category, name, type_path FROM graph_points_wide ORDER BY dp_path",
    "INSERT INTO graph_values (id, value, kind, unit, ts)"
    " SELECT d.id, w.value, w.kind, w.unit, w.ts FROM graph_points_wide w JOIN graph_dps d ON d.dp_path = w.dp_path",
    "DROP TABLE graph_points_wide",
)
_WIDE_POINTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'graph_points'"
_TABLES = ("graph_collections", "graph_meta", "graph_assets", "graph_dps", "graph_values")
# Writers skip assets (and samples) they know are stored; a topology sync that removes anything bumps this counter,
# so every writer, in any process, forgets what it knew.
_TOPOLOGY = "SELECT value FROM graph_meta WHERE key = 'topology'"
_BUMP_TOPOLOGY = (
    "INSERT INTO graph_meta (key, value) VALUES ('topology', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1"
)
_CACHE_LIMIT = 500_000
_NUMBERS = frozenset((float, int))
_NUMBERS_OR_NONE = frozenset((float, int, type(None)))


# dp path, asset path, category, name, type path, and the asset rows along the asset path (root first)
_Parts = tuple[str, str, str, str, str, tuple[tuple[str, str, str, str, str], ...]]


def _json(items: Iterable[str]) -> str:
    return orjson.dumps(list(items)).decode()


def _dp(value: Any, ts: float | None, unit: str | None) -> dict[str, Any]:
    """A DP object as snapshots carry it (unit only when not None)."""
    dp: dict[str, Any] = {"value": value, "timestamp": ts}
    if unit is not None:
        dp["unit"] = unit
    return dp


class SqliteGraphStore(GraphStore):
    """Assets and latest values in a sqlite file (`path`) or in memory (`path=None`); given the `telemetry` store of
    the same database, samples are written there once and the graph reads its values from it."""

    def __init__(
        self,
        path: str | None = None,
        *,
        database: SqliteDatabase | None = None,
        telemetry: SqliteTelemetryStore | None = None,
    ) -> None:
        if telemetry is not None:
            other_path = path is not None and path != telemetry.db.path
            if other_path or (database is not None and database is not telemetry.db):
                raise ValueError("a graph store linked to a telemetry store must use that store's database")
            database = telemetry.db
        self.db = database or SqliteDatabase(path)
        self.telemetry = telemetry
        self._ready = False
        # (asset path, category, name) -> [its parts, its graph_dps id, the sample this store wrote]: ids and
        # samples, like the assets this store wrote, are valid while the topology counter stays `_topology`
        self._points: dict[tuple[Any, Any, Any], list[Any]] = {}
        self._chains: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {}  # asset path -> rows along it
        self._topology: int | None = None
        self._stored_assets: set[str] = set()
        self._linked_series: set[int] = set()  # telemetry series whose data point this (linked) store has stored

    def _ensure_schema(self) -> list[str]:
        """Create the tables if missing (moving a file of the wide graph_points layout to graph_dps/graph_values), the
        telemetry tables the values are also read from, and the views."""
        with self.db.lock:
            writer = self.db.writer
            created, _ = ensure_telemetry_schema(writer, self.db.describe())
            existing = dict(writer.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')"))
            if existing.get("graph_points") == "table":
                with transaction(writer):
                    if writer.execute(_WIDE_POINTS).fetchone():  # not migrated by another process meanwhile
                        for statement in _MIGRATE_WIDE_POINTS:
                            writer.execute(statement)
            writer.executescript(_SCHEMA)
            views = dict(writer.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'"))
            if any(views.get(name) != sql for name, sql in _VIEWS.items()):
                with transaction(writer):
                    for name, sql in _VIEWS.items():
                        writer.execute(f"DROP VIEW IF EXISTS {name}")
                        writer.execute(sql)
            self._ready = True
        return [f"table {t}" for t in _TABLES if existing.get(t) != "table"] + created

    # ----- bootstrap and topology sync -----
    def bootstrap(self, model: Model, instances: Instances | None = None) -> BootstrapReport:
        """Create tables and collections; remove assets of vanished slots (and, given instances, unknown assets)."""
        report = BootstrapReport(store=self.db.describe())
        report.created.extend(self._ensure_schema())
        wanted = {name: "vertex" for name in collections_for_model(model)}
        wanted.update({name: "edge" for name in EDGE_COLLECTIONS})
        slot_paths = list(model.slots)
        with self.db.lock:
            conn = self.db.writer
            cur = conn.cursor()
            self._topology = None  # forget what was written: this sync may remove it
            self._points.clear()
            self._stored_assets.clear()
            self._linked_series.clear()
            stored_after: set[str] | None = None
            with transaction(cur):  # what is read is what is changed, whatever other processes do
                existing = dict(cur.execute("SELECT name, kind FROM graph_collections").fetchall())
                for name, kind in wanted.items():
                    if name not in existing:
                        report.created.append(f"{kind} collection {name}")
                for name, kind in existing.items():
                    if name not in wanted:
                        report.removed.append(f"{kind} collection {name}")
                cur.execute("DELETE FROM graph_collections")
                cur.executemany("INSERT INTO graph_collections (name, kind) VALUES (?, ?)", wanted.items())
                stale = cur.execute(
                    "SELECT path FROM graph_assets WHERE type_path NOT IN (SELECT value FROM json_each(?))",
                    (_json(slot_paths),),
                ).fetchall()
                removed = [path for (path,) in stale]
                if instances is not None:
                    keep = {asset.path for asset in instances.assets}
                    stored = {path for (path,) in cur.execute("SELECT path FROM graph_assets")}
                    removed_set = set(removed)
                    removed.extend(sorted(p for p in stored - keep if p not in removed_set))
                    new_assets = [a for a in instances.assets if a.path not in stored]
                    cur.executemany(
                        _INSERT_ASSET,
                        [(a.path, a.slot.name, a.id, a.slot.type_path, a.parent) for a in new_assets],
                    )
                    if new_assets:
                        report.created.append(f"{len(new_assets)} assets")
                    new_paths = {a.path for a in new_assets}
                    self._insert_defaults(cur, instances, new_paths)
                    stored_after = (stored - set(removed)) | new_paths
                if removed:
                    cur.executemany("DELETE FROM graph_assets WHERE path = ?", [(p,) for p in removed])
                    cur.execute("DELETE FROM graph_dps WHERE asset_path NOT IN (SELECT path FROM graph_assets)")
                    cur.execute("DELETE FROM graph_values WHERE id NOT IN (SELECT id FROM graph_dps)")
                    report.removed.extend(f"asset {p}" for p in sorted(removed))
                    cur.execute(_BUMP_TOPOLOGY)
                topology = cur.execute(_TOPOLOGY).fetchone()
            if stored_after is not None and len(stored_after) < _CACHE_LIMIT:  # writers need not insert these
                self._stored_assets = stored_after
                self._topology = topology[0] if topology else 0
        self.db.wrote()
        return report

    @staticmethod
    def _insert_defaults(cur: Any, instances: Instances, new_assets: set[str]) -> None:
        """Points with a default value for newly created assets, as upstream did for new vertices (0/False kept)."""
        now = time.time()
        dps = []
        values = []
        for dp_path, spec in instances.points.items():
            if not spec.has_default:
                continue
            asset_path = dp_path[: -len(spec.category) - len(spec.name) - 2]
            if asset_path in new_assets:
                value, kind = encode_value(spec.default)
                dps.append((dp_path, asset_path, spec.category, spec.name, spec.type_path))
                values.append((value, kind, spec.unit, now, dp_path))
        cur.executemany(_INSERT_DEFAULT_DP, dps)
        cur.executemany(_INSERT_DEFAULT_VALUE, values)

    # ----- upserts -----
    def _point(self, key: tuple[Any, Any, Any]) -> list[Any]:
        """The cache entry of a data point: its checked, derived parts, no id and no sample yet."""
        asset_path, category, name = key
        where = f"{asset_path}.{category}.{name}"
        if category not in CATEGORIES:
            raise SnapshotError(f"{where}: type must be one of {CATEGORIES}")
        if not isinstance(name, str) or not name or PATH_SEP in name:
            raise SnapshotError(f"{where}: invalid data-point name {name!r}")
        if not isinstance(asset_path, str) or not asset_path:
            raise SnapshotError(f"{where}: a data point needs an asset path")
        try:
            chain = self._chain(asset_path)
        except SnapshotError as exc:
            message = exc.message
            try:  # the error about the whole path, not the ancestor where the walk up failed
                asset_pairs(asset_path)
            except SnapshotError as whole:
                message = whole.message
            raise SnapshotError(f"{where}: {message}") from None
        if len(self._points) >= _CACHE_LIMIT:
            self._points.clear()
        parts = (where, asset_path, category, name, f"{chain[-1][3]}{PATH_SEP}{name}", chain)
        entry = self._points[key] = [parts, None, None]
        return entry

    def _chain(self, asset_path: str) -> tuple[tuple[str, str, str, str, str], ...]:
        """The asset rows (path, collection, name, type path, parent) along an asset path, root first.

        Built from the parent's cached chain: the assets of a batch share most of their ancestors."""
        chain = self._chains.get(asset_path)
        if chain is None:
            parent, _, asset_id = asset_path.rpartition(PATH_SEP)
            parent, _, type_name = parent.rpartition(PATH_SEP)
            if not type_name or not asset_id:
                asset_pairs(asset_path)  # raises the error that says what is wrong with the path
                raise SnapshotError(f"malformed asset path {asset_path!r}")
            above = self._chain(parent) if parent else ()
            type_path = f"{above[-1][3]}{PATH_SEP}{type_name}" if above else type_name
            if len(self._chains) >= _CACHE_LIMIT:
                self._chains.clear()
            chain = self._chains[asset_path] = (*above, (asset_path, type_name, asset_id, type_path, parent))
        return chain

    def _newest(self, records: list[Mapping[str, Any]]) -> dict[tuple[Any, Any, Any], tuple[float, Any]]:
        """The newest (epoch seconds, record) per data point of a batch; of equal timestamps the later record wins.

        Batches of numeric (or missing) timestamps take a shortcut: a stable sort by timestamp, then the last index per
        point."""
        try:
            keys = [(r["asset_path"], r["type"], r["field"]) for r in records]
            stamps: list[Any] = [r.get("timestamp") for r in records]
        except (KeyError, TypeError, AttributeError):
            return self._newest_checked(records)
        types = set(map(type, stamps))
        if not _NUMBERS.issuperset(types):
            if not _NUMBERS_OR_NONE.issuperset(types):
                return self._newest_checked(records)
            now = time.time()  # a missing timestamp means now, as in the other stores
            stamps = [now if ts is None else ts for ts in stamps]
        try:
            if stamps == sorted(stamps):  # the usual batch, in time order: a point's last record is its newest
                last = dict(zip(keys, range(len(keys)), strict=True))
            else:
                order = sorted(range(len(stamps)), key=stamps.__getitem__)
                last = dict(zip(map(keys.__getitem__, order), order, strict=True))
        except TypeError:  # unhashable parts
            return self._newest_checked(records)
        return {key: (float(stamps[i]), records[i]) for key, i in last.items()}

    def _newest_checked(self, records: list[Mapping[str, Any]]) -> dict[tuple[Any, Any, Any], tuple[float, Any]]:
        """`_newest` record by record: any timestamp the records may carry, and errors that name the record."""
        newest: dict[tuple[Any, Any, Any], tuple[float, Any]] = {}
        for record in records:
            if not isinstance(record, Mapping):
                raise SnapshotError(f"record {record!r}"[:200] + ": not a mapping of data-point keys")
            key = record_point(record)
            try:
                hash(key)
            except TypeError:
                self._point(key)  # raises the SnapshotError naming the point
                raise
            ts = epoch_seconds(record.get("timestamp"), "{}.{}.{}".format(*key))
            seen = newest.get(key)
            if seen is None or ts >= seen[0]:
                newest[key] = (ts, record)
        return newest

    def upsert_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Upsert the assets along each record's asset path and its data point (the newest timestamp wins).

        Linked to a telemetry store, the records are written there and the graph adds only the points and assets it
        has not stored. On its own, only the newest sample per data point of a batch is written, in one multi-row
        upsert, and neither assets nor samples this store already wrote are written again (until a topology sync
        removes anything)."""
        if not self._ready:
            self._ensure_schema()
        records = records if isinstance(records, list) else list(records)
        if not records:
            return 0
        if self.telemetry is not None:
            series = self.telemetry.write_records_series(records)  # checks every record: what follows relies on it
            self._add_points(lambda: records, series)
            self.db.wrote()
            return len(records)
        newest = self._newest(records)
        with self.db.lock:
            cur = self.db.writer.cursor()
            with transaction(cur):  # the topology read and the writes see the same state
                self._check_topology(cur)
                changed = self._changed(newest)
                entries = [entry for entry, _ in changed]
                assets = self._new_assets(entries)
                _INSERT_ASSETS.execute(cur, [v for asset in assets.values() for v in asset])
                ids = self._new_ids(cur, entries)
                rows: list[Any] = []
                extend = rows.extend
                for entry, sample in changed:
                    extend((entry[1] or ids[entry[0][0]], *sample))
                _UPSERT_VALUES.execute(cur, rows)
            # only now: what a rolled-back transaction wrote is not stored
            self._remember(assets, entries, ids)
            for entry, sample in changed:
                entry[2] = sample
        self.db.wrote()
        return len(records)

    def add_points_of_series(self, series: list[int], records: Callable[[], list[Mapping[str, Any]]]) -> None:
        """After the linked telemetry store wrote samples of `series`: store the data points (and assets) this store
        has not stored; `records` gives the samples' records (in the order of `series`), called only when needed."""
        self._add_points(records, series)
        self.db.wrote()

    def _add_points(self, records_of: Callable[[], list[Mapping[str, Any]]], series: list[int]) -> None:
        """Store the data points (and the assets along their paths) of the records that this store has not stored,
        telling them by their telemetry series ids (checking ints is a tenth of the cost of building path keys)."""
        with self.db.lock:
            cur = self.db.writer.cursor()
            linked = self._linked_series
            if not linked.issuperset(series) or self._read_topology(cur) != self._topology:
                with transaction(cur):
                    self._check_topology(cur)
                    new = set(series).difference(linked)
                    points = self._points
                    pairs = zip(records_of(), series, strict=True)
                    keys = {(r["asset_path"], r["type"], r["field"]) for r, sid in pairs if sid in new}
                    entries = [points[key] if key in points else self._point(key) for key in keys]
                    entries = [entry for entry in entries if entry[1] is None]
                    assets = self._new_assets(entries)
                    _INSERT_ASSETS.execute(cur, [v for asset in assets.values() for v in asset])
                    ids = self._new_ids(cur, entries)
                self._remember(assets, entries, ids)
                if len(linked) >= _CACHE_LIMIT:
                    linked.clear()
                linked.update(new)

    @staticmethod
    def _read_topology(cur: Any) -> int:
        """The file's topology counter (0 before any sync removed anything)."""
        topology = cur.execute(_TOPOLOGY).fetchone()
        return topology[0] if topology else 0

    def _check_topology(self, cur: Any) -> None:
        """Forget which assets and points are stored when a sync removed anything since this store last looked."""
        topology = self._read_topology(cur)
        if topology != self._topology:
            self._points.clear()
            self._stored_assets.clear()
            self._linked_series.clear()
            self._topology = topology

    def _remember(self, assets: dict[str, Any], entries: list[list[Any]], ids: dict[str, int]) -> None:
        """Note the assets and data-point ids a committed transaction stored."""
        if len(self._stored_assets) >= _CACHE_LIMIT:
            self._stored_assets.clear()
        self._stored_assets.update(assets)
        for entry in entries:
            if entry[1] is None:
                entry[1] = ids[entry[0][0]]

    def _changed(
        self, newest: dict[tuple[Any, Any, Any], tuple[float, Any]]
    ) -> list[tuple[list[Any], tuple[Any, ...]]]:
        """(cache entry, (value, kind, unit, ts)) of the newest samples that may change what is stored."""
        points = self._points
        changed: list[Any] = []
        append = changed.append
        for key, (ts, record) in newest.items():
            entry = points.get(key) or self._point(key)
            value = record.get("value")
            cls = type(value)
            kind = None
            if cls is not float and cls is not str:
                value, kind = encode_value(value)
            unit = record.get("unit")
            if unit is not None and not isinstance(unit, str):
                raise SnapshotError(f"{entry[0][0]}: unit {unit!r} is not text")
            sample = (value, kind, unit, ts)
            before = entry[2]
            # an older sample never overwrites; the same one again needs no write (same types: 1 == 1.0 == True)
            if before is not None and (ts < before[3] or (before == sample and type(before[0]) is type(value))):
                continue
            append((entry, sample))
        return changed

    def _new_assets(self, entries: list[list[Any]]) -> dict[str, tuple[str, str, str, str, str]]:
        """The asset rows along the points' asset paths that this store has not stored yet."""
        stored = self._stored_assets
        assets: dict[str, tuple[str, str, str, str, str]] = {}
        for entry in entries:
            parts = entry[0]
            if parts[1] not in stored and parts[1] not in assets:
                for asset in parts[5]:
                    if asset[0] not in stored:
                        assets[asset[0]] = asset
        return assets

    def _new_ids(self, cur: Any, entries: list[list[Any]]) -> dict[str, int]:
        """dp path -> id of the points without a known id (their rows are created when missing)."""
        new = [entry[0] for entry in entries if entry[1] is None]
        if not new:
            return {}
        _INSERT_DPS.execute(cur, [v for parts in new for v in parts[:5]])
        return dict(cur.execute(_DP_IDS, (_json(parts[0] for parts in new),)))

    # ----- queries -----
    def _fresh_clause(self, max_age: float | None) -> tuple[str, tuple[Any, ...]]:
        if max_age is None:
            return _HAS_VALUE, ()
        cutoff = time.time() - max_age
        # the value is the newer of the two: fresh when either is
        fresh = f"((p.category = '{ATTRIBUTE}' AND {_HAS_VALUE}) OR v.ts >= ? OR {_NEWEST.ts_ns} >= ?)"
        return fresh, (cutoff, int(cutoff * 1e9))

    def latest(self, pattern: str | None = None, *, max_age: float | None = None) -> dict[str, Sample]:
        """The latest value per data-point path whose type path matches the %-pattern (fresh telemetry with max_age)."""
        if not self._ready:
            self._ensure_schema()
        fresh, params = self._fresh_clause(max_age)
        where = "1"
        if pattern is not None:
            fullmatch = compile_pattern(pattern).fullmatch
            type_paths = [tp for (tp,) in self.db.read("SELECT DISTINCT type_path FROM graph_dps") if fullmatch(tp)]
            where = "p.type_path IN (SELECT value FROM json_each(?))"
            params = (_json(type_paths), *params)
        rows = self.db.read(
            f"SELECT p.dp_path, {_VALUE}, {_KIND}, {_TS}, {_UNIT} FROM graph_dps p{_VALUE_JOINS}"
            f" WHERE {where} AND {fresh} ORDER BY p.dp_path",
            params,
        )
        return {path: Sample(decode_value(value, kind), ts, unit) for path, value, kind, ts, unit in rows}

    def query_qpath(self, qpath: Mapping[str, Any] | QPath, *, max_age: float | None = None) -> dict[str, Any]:
        """A nested snapshot of the assets the qpath keeps (see tiro_models.qpath for the semantics)."""
        if not self._ready:
            self._ensure_schema()
        parsed = qpath if isinstance(qpath, QPath) else parse_qpath(qpath)
        cutoff = None if max_age is None else time.time() - max_age
        tree: dict[str, Any] = self._evaluate(parsed.roots, [""], cutoff).get("", {})
        return tree

    def _evaluate(self, nodes: tuple[QNode, ...], parents: list[str], cutoff: float | None) -> dict[str, Any]:
        """Output per parent asset path of `nodes`, level by level: children are read only under kept assets."""
        out: dict[str, Any] = {}
        parents_json = _json(parents)
        for node in nodes:
            rows = self.db.read(
                f"SELECT a.path, a.name, a.parent, p.category, p.name, {_VALUE}, {_KIND}, {_TS}, {_UNIT}"
                f" FROM graph_assets a LEFT JOIN graph_dps p ON p.asset_path = a.path{_VALUE_JOINS}"
                " WHERE a.parent IN (SELECT value FROM json_each(?)) AND a.type_path = ? ORDER BY a.path, p.dp_path",
                (parents_json, node.type_path),
            )
            assets: dict[str, tuple[str, str, dict[str, tuple[str, Any, float, str | None]]]] = {}
            for path, asset_id, parent, category, name, value, kind, ts, unit in rows:
                entry = assets.get(path)
                if entry is None:
                    entry = assets[path] = (parent, asset_id, {})
                if name is None or ts is None:  # an asset without points, or a point without a value
                    continue
                if cutoff is not None and category != ATTRIBUTE and (ts is None or ts < cutoff):
                    continue
                entry[2][name] = (category, decode_value(value, kind), ts, unit)
            kept = {
                path: entry
                for path, entry in assets.items()
                if node.keeps(entry[1], {name: point[1] for name, point in entry[2].items()})
            }
            below = self._evaluate(node.children, list(kept), cutoff) if node.children and kept else {}
            names = node.output_names()
            for path, (parent, asset_id, points) in kept.items():
                entity: dict[str, Any] = {}
                for name, (category, value, ts, unit) in points.items():
                    if names is None or name in names:
                        entity.setdefault(category, {})[name] = _dp(value, ts, unit)
                entity.update(below.get(path, {}))
                if entity:
                    out.setdefault(parent, {}).setdefault(node.slot, {})[asset_id] = entity
        return out

    def attributes_and_missing(self, model: Model, *, max_age: float = 300) -> dict[str, Sample | None]:
        """Every required point of stored assets: attributes always, telemetry when fresh, else None."""
        if not self._ready:
            self._ensure_schema()
        assets = self.db.read(
            "SELECT path, type_path FROM graph_assets WHERE type_path IN (SELECT value FROM json_each(?))"
            " ORDER BY path",
            (_json(model.slots),),
        )
        fresh, params = self._fresh_clause(max_age)
        stored = {
            path: Sample(decode_value(value, kind), ts, unit)
            for path, value, kind, ts, unit in self.db.read(
                f"SELECT p.dp_path, {_VALUE}, {_KIND}, {_TS}, {_UNIT} FROM graph_dps p{_VALUE_JOINS}"
                f" WHERE p.type_path IN (SELECT value FROM json_each(?)) AND {fresh}",
                (_json(model.points), *params),
            )
        }
        out: dict[str, Sample | None] = {}
        for asset_path, type_path in assets:
            for spec in model.slots[type_path].points.values():
                dp_path = f"{asset_path}{PATH_SEP}{spec.category}{PATH_SEP}{spec.name}"
                out[dp_path] = stored.get(dp_path)
        return out

    def close(self) -> None:
        """Close the database connections."""
        self.db.close()

"""The embedded graph store on sqlite: assets keyed by asset path, parent links, data points with their latest value.

Same model as the Arango layout (tiro-upstream §5, path-qualified as tiro_models.graph_docs): vertex "collections" are
the model's slot names (recorded in `graph_collections`), an asset row is a vertex whose `parent` column is its
`is_parent_of` edge (every asset has exactly one parent, "" being the root `Scenario/000`), and a point row is a
data-point document whose `asset_path` is its `has_data_point` edge. Views `is_parent_of` and `has_data_point` expose
the edges in Arango's `_from`/`_to` form. A point keeps the sample with the newest timestamp, so replays are harmless.

Freshness (`max_age`) applies to Telemetry only: attributes are static and always count as present.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from tiro.stores.base import BootstrapReport, GraphStore, Sample
from tiro.stores.sqlite_rows import MultiRowInsert
from tiro.stores.sqlite_telemetry import SqliteDatabase, decode_value, encode_value
from tiro_models.errors import SnapshotError
from tiro_models.graph_docs import EDGE_COLLECTIONS, ROOT_COLLECTION, ROOT_KEY, collections_for_model
from tiro_models.line_protocol import epoch_seconds
from tiro_models.paths import asset_pairs, compile_pattern
from tiro_models.qpath import QNode, QPath, parse_qpath
from tiro_models.records import record_point
from tiro_models.spec import ATTRIBUTE, CATEGORIES, PATH_SEP, Instances, Model

__all__ = ["SqliteGraphStore"]

_SCHEMA = f"""
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
CREATE TABLE IF NOT EXISTS graph_points (
    dp_path TEXT PRIMARY KEY,
    asset_path TEXT NOT NULL,
    category TEXT NOT NULL,
    name TEXT NOT NULL,
    type_path TEXT NOT NULL,
    value,
    kind TEXT,
    unit TEXT,
    ts REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS graph_points_asset ON graph_points (asset_path);
CREATE INDEX IF NOT EXISTS graph_points_type_path ON graph_points (type_path);
CREATE VIEW IF NOT EXISTS is_parent_of AS
    SELECT CASE parent WHEN '' THEN '{ROOT_COLLECTION}/{ROOT_KEY}' ELSE parent END AS _from,
           path AS _to, collection AS next_category FROM graph_assets;
CREATE VIEW IF NOT EXISTS has_data_point AS
    SELECT asset_path AS _from, dp_path AS _to, name AS next_category FROM graph_points;
"""

_INSERT_ASSET = "INSERT OR IGNORE INTO graph_assets (path, collection, name, type_path, parent) VALUES (?, ?, ?, ?, ?)"
_INSERT_ASSETS = MultiRowInsert(
    "INSERT OR IGNORE INTO graph_assets (path, collection, name, type_path, parent)", width=5
)
# The newest sample wins, so a replayed or late older message never overwrites a newer value; a row that would not
# change (a replay of the stored sample) is not written at all.
_UPSERT_POINTS = MultiRowInsert(
    "INSERT INTO graph_points (dp_path, asset_path, category, name, type_path, value, kind, unit, ts)",
    width=9,
    tail="ON CONFLICT (dp_path) DO UPDATE SET"
    " value = excluded.value, kind = excluded.kind, unit = excluded.unit, ts = excluded.ts"
    " WHERE graph_points.ts IS NULL OR excluded.ts > graph_points.ts OR (excluded.ts = graph_points.ts AND ("
    "graph_points.value IS NOT excluded.value OR typeof(graph_points.value) IS NOT typeof(excluded.value)"
    " OR graph_points.kind IS NOT excluded.kind OR graph_points.unit IS NOT excluded.unit))",
)
_INSERT_DEFAULT = (
    "INSERT OR IGNORE INTO graph_points (dp_path, asset_path, category, name, type_path, value, kind, unit, ts)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Writers skip assets (and samples) they know are stored; a topology sync that removes anything bumps this counter,
# so every writer, in any process, forgets what it knew.
_TOPOLOGY = "SELECT value FROM graph_meta WHERE key = 'topology'"
_BUMP_TOPOLOGY = (
    "INSERT INTO graph_meta (key, value) VALUES ('topology', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1"
)
_CACHE_LIMIT = 500_000
_NUMBERS = frozenset((float, int))


# dp path, asset path, category, name, type path, and the asset rows along the asset path (root first)
_Point = tuple[str, str, str, str, str, tuple[tuple[str, str, str, str, str], ...]]


def _json(items: Iterable[str]) -> str:
    return orjson.dumps(list(items)).decode()


def _dp(value: Any, ts: float | None, unit: str | None) -> dict[str, Any]:
    """A DP object as snapshots carry it (unit only when not None)."""
    dp: dict[str, Any] = {"value": value, "timestamp": ts}
    if unit is not None:
        dp["unit"] = unit
    return dp


class SqliteGraphStore(GraphStore):
    """Assets and latest values in a sqlite file (`path`) or in memory (`path=None`)."""

    def __init__(self, path: str | None = None, *, database: SqliteDatabase | None = None) -> None:
        self.db = database or SqliteDatabase(path)
        self._ready = False
        self._points: dict[tuple[Any, Any, Any], _Point] = {}  # (asset path, category, name) -> its parts
        # what this store wrote, valid while the topology counter stays `_topology`
        self._topology: int | None = None
        self._stored_assets: set[str] = set()
        self._written: dict[tuple[Any, Any, Any], tuple[float, Any, str | None, str | None]] = {}

    def _ensure_schema(self) -> list[str]:
        with self.db.lock:
            existing = {r[0] for r in self.db.writer.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            self.db.writer.executescript(_SCHEMA)
            self._ready = True
        return [
            f"table {t}"
            for t in ("graph_collections", "graph_meta", "graph_assets", "graph_points")
            if t not in existing
        ]

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
            cur.execute("BEGIN")
            self._topology = None  # forget what was written: this sync may remove it
            try:
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
                    self._insert_defaults(cur, instances, {a.path for a in new_assets})
                if removed:
                    cur.executemany("DELETE FROM graph_assets WHERE path = ?", [(p,) for p in removed])
                    cur.execute("DELETE FROM graph_points WHERE asset_path NOT IN (SELECT path FROM graph_assets)")
                    report.removed.extend(f"asset {p}" for p in sorted(removed))
                    cur.execute(_BUMP_TOPOLOGY)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return report

    @staticmethod
    def _insert_defaults(cur: Any, instances: Instances, new_assets: set[str]) -> None:
        """Points with a default value for newly created assets, as upstream did for new vertices (0/False kept)."""
        now = time.time()
        rows = []
        for dp_path, spec in instances.points.items():
            if not spec.has_default:
                continue
            asset_path = dp_path[: -len(spec.category) - len(spec.name) - 2]
            if asset_path in new_assets:
                value, kind = encode_value(spec.default)
                rows.append(
                    (dp_path, asset_path, spec.category, spec.name, spec.type_path, value, kind, spec.unit, now)
                )
        cur.executemany(_INSERT_DEFAULT, rows)

    # ----- upserts -----
    def _point(self, key: tuple[Any, Any, Any]) -> _Point:
        """The checked, derived parts of a data point (cached: they depend on its path only)."""
        asset_path, category, name = key
        where = f"{asset_path}.{category}.{name}"
        if category not in CATEGORIES:
            raise SnapshotError(f"{where}: type must be one of {CATEGORIES}")
        if not isinstance(name, str) or not name or PATH_SEP in name:
            raise SnapshotError(f"{where}: invalid data-point name {name!r}")
        if not isinstance(asset_path, str) or not asset_path:
            raise SnapshotError(f"{where}: a data point needs an asset path")
        try:
            pairs = asset_pairs(asset_path)
        except SnapshotError as exc:
            raise SnapshotError(f"{where}: {exc.message}") from None
        chain = []
        parent = type_path = ""
        for type_name, asset_id in pairs:
            path = (
                f"{parent}{PATH_SEP}{type_name}{PATH_SEP}{asset_id}" if parent else f"{type_name}{PATH_SEP}{asset_id}"
            )
            type_path = f"{type_path}{PATH_SEP}{type_name}" if type_path else type_name
            chain.append((path, type_name, asset_id, type_path, parent))
            parent = path
        if len(self._points) >= _CACHE_LIMIT:
            self._points.clear()
        point = self._points[key] = (where, asset_path, category, name, f"{type_path}{PATH_SEP}{name}", tuple(chain))
        return point

    def _newest(self, records: list[Mapping[str, Any]]) -> dict[tuple[Any, Any, Any], tuple[float, Any]]:
        """The newest (epoch seconds, record) per data point of a batch; of equal timestamps the later record wins.

        Batches of numeric timestamps take a shortcut: a stable sort by timestamp, then the last index per point."""
        try:
            keys = [(r["asset_path"], r["type"], r["field"]) for r in records]
            stamps = [r.get("timestamp") for r in records]
        except (KeyError, TypeError, AttributeError):
            return self._newest_checked(records)
        if not _NUMBERS.issuperset(map(type, stamps)):
            return self._newest_checked(records)
        try:
            last = {keys[i]: i for i in sorted(range(len(stamps)), key=stamps.__getitem__)}
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

        Only the newest sample per data point of a batch is written, in one multi-row upsert per table, and neither
        assets nor samples this store already wrote are written again (until a topology sync removes anything)."""
        if not self._ready:
            self._ensure_schema()
        records = records if isinstance(records, list) else list(records)
        newest = self._newest(records)
        with self.db.lock:
            cur = self.db.writer.cursor()
            cur.execute("BEGIN IMMEDIATE")  # the topology read and the writes see the same state
            try:
                topology = cur.execute(_TOPOLOGY).fetchone()
                topology = topology[0] if topology else 0
                if topology != self._topology or len(self._written) > _CACHE_LIMIT:
                    self._stored_assets.clear()
                    self._written.clear()
                    self._topology = topology
                assets, rows, written = self._rows(newest)
                _INSERT_ASSETS.execute(cur, [v for asset in assets.values() for v in asset])
                _UPSERT_POINTS.execute(cur, rows)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            self._stored_assets.update(assets)
            self._written.update(written)
        return len(records)

    def _rows(self, newest: dict[tuple[Any, Any, Any], tuple[float, Any]]) -> tuple[dict[str, Any], list[Any], dict]:
        """The asset rows not known to be stored, the flat point rows that change a stored sample, and those samples."""
        points = self._points
        stored_assets = self._stored_assets
        previous = self._written.get
        assets: dict[str, tuple[str, str, str, str, str]] = {}
        rows: list[Any] = []
        extend = rows.extend
        written = {}
        for key, (ts, record) in newest.items():
            point = points.get(key) or self._point(key)
            value = record.get("value")
            cls = type(value)
            kind = None
            if cls is not float and cls is not str:
                value, kind = encode_value(value)
            unit = record.get("unit")
            if unit is not None and not isinstance(unit, str):
                raise SnapshotError(f"{point[0]}: unit {unit!r} is not text")
            sample = (ts, value, kind, unit)
            before = previous(key)
            # an older sample never overwrites; the same one again needs no write (same types: 1 == 1.0 == True)
            if before is not None and (ts < before[0] or (before == sample and type(before[1]) is type(value))):
                continue
            if point[1] not in stored_assets and point[1] not in assets:
                for asset in point[5]:
                    if asset[0] not in stored_assets:
                        assets[asset[0]] = asset
            written[key] = sample
            extend((*point[:5], value, kind, unit, ts))
        return assets, rows, written

    # ----- queries -----
    def _fresh_clause(self, max_age: float | None) -> tuple[str, tuple[Any, ...]]:
        if max_age is None:
            return "1", ()
        return f"(p.category = '{ATTRIBUTE}' OR p.ts >= ?)", (time.time() - max_age,)

    def latest(self, pattern: str | None = None, *, max_age: float | None = None) -> dict[str, Sample]:
        """The latest value per data-point path whose type path matches the %-pattern (fresh telemetry with max_age)."""
        if not self._ready:
            self._ensure_schema()
        fresh, params = self._fresh_clause(max_age)
        where = "1"
        if pattern is not None:
            fullmatch = compile_pattern(pattern).fullmatch
            type_paths = [tp for (tp,) in self.db.read("SELECT DISTINCT type_path FROM graph_points") if fullmatch(tp)]
            where = "p.type_path IN (SELECT value FROM json_each(?))"
            params = (_json(type_paths), *params)
        rows = self.db.read(
            f"SELECT p.dp_path, p.value, p.kind, p.ts, p.unit FROM graph_points p WHERE {where} AND {fresh}"
            " ORDER BY p.dp_path",
            params,
        )
        return {path: Sample(decode_value(value, kind), ts, unit) for path, value, kind, ts, unit in rows}

    def query_qpath(self, qpath: Mapping[str, Any] | QPath, *, max_age: float | None = None) -> dict[str, Any]:
        """A nested snapshot of the assets the qpath keeps (see tiro_models.qpath for the semantics)."""
        if not self._ready:
            self._ensure_schema()
        parsed = qpath if isinstance(qpath, QPath) else parse_qpath(qpath)
        cutoff = None if max_age is None else time.time() - max_age
        return self._evaluate(parsed.roots, [""], cutoff).get("", {})

    def _evaluate(self, nodes: tuple[QNode, ...], parents: list[str], cutoff: float | None) -> dict[str, Any]:
        """Output per parent asset path of `nodes`, level by level: children are read only under kept assets."""
        out: dict[str, Any] = {}
        parents_json = _json(parents)
        for node in nodes:
            rows = self.db.read(
                "SELECT a.path, a.name, a.parent, p.category, p.name, p.value, p.kind, p.ts, p.unit"
                " FROM graph_assets a LEFT JOIN graph_points p ON p.asset_path = a.path"
                " WHERE a.parent IN (SELECT value FROM json_each(?)) AND a.type_path = ? ORDER BY a.path, p.dp_path",
                (parents_json, node.type_path),
            )
            assets: dict[str, tuple[str, str, dict[str, tuple[str, Any, float, str | None]]]] = {}
            for path, asset_id, parent, category, name, value, kind, ts, unit in rows:
                entry = assets.get(path)
                if entry is None:
                    entry = assets[path] = (parent, asset_id, {})
                if name is None:
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
                "SELECT p.dp_path, p.value, p.kind, p.ts, p.unit FROM graph_points p"
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

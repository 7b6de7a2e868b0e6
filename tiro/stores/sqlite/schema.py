"""The telemetry tables of a sqlite file: created when missing, migrated from the earlier one-table layout."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from tiro.stores.base import StoreError
from tiro.stores.sqlite.transactions import transaction

__all__ = ["NewestSample", "StoreLayoutError", "ensure_telemetry_schema", "newest_sample"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS telemetry_paths (
    id INTEGER PRIMARY KEY,
    dp_path TEXT NOT NULL UNIQUE,
    type_path TEXT NOT NULL,
    asset_path TEXT NOT NULL,
    category TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT
)""",
    "CREATE INDEX IF NOT EXISTS telemetry_series_type_path ON telemetry_paths (type_path)",
    "CREATE TABLE IF NOT EXISTS telemetry_latest (series INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS telemetry_samples (
    series INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL,
    value,
    kind TEXT,
    PRIMARY KEY (ts_ns, series)
) WITHOUT ROWID""",
    # the earlier one-table layout, for readers of the file that know only that (reliability and bench probes)
    """CREATE VIEW IF NOT EXISTS telemetry_series AS
    SELECT p.id, p.dp_path, p.type_path, p.asset_path, p.category, p.name, p.unit, l.ts_ns AS last_ns
    FROM telemetry_paths p LEFT JOIN telemetry_latest l ON l.series = p.id""",
)
_TABLES = ("telemetry_paths", "telemetry_latest", "telemetry_samples")
_OBJECTS = {**dict.fromkeys(_TABLES, "table"), "telemetry_series_type_path": "index", "telemetry_series": "view"}
# the layout before telemetry_latest, migrated on bootstrap: last_ns lived in the series table
_WIDE_SERIES_COLUMNS = ("id", "dp_path", "type_path", "asset_path", "category", "name", "unit", "last_ns")
_MIGRATE_WIDE_SERIES = (
    "ALTER TABLE telemetry_series RENAME TO telemetry_paths",
    "CREATE TABLE telemetry_latest (series INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL)",
    "INSERT INTO telemetry_latest (series, ts_ns) SELECT id, last_ns FROM telemetry_paths WHERE last_ns IS NOT NULL",
    "ALTER TABLE telemetry_paths DROP COLUMN last_ns",
)


class NewestSample(NamedTuple):
    """SQL for the newest telemetry sample of a data-point path: LEFT JOINs to add to a query, and its columns."""

    joins: str
    value: str
    kind: str
    unit: str
    ts_ns: str  # NULL when the path has no sample


def newest_sample(path_column: str) -> NewestSample:
    """The newest sample of the path in `path_column`, for a query of another table of the same file (the graph's
    points); the telemetry tables stay this module's business."""
    joins = (
        f" LEFT JOIN telemetry_paths tp ON tp.dp_path = {path_column}"
        " LEFT JOIN telemetry_latest tl ON tl.series = tp.id"
        " LEFT JOIN telemetry_samples t ON t.ts_ns = tl.ts_ns AND t.series = tl.series"
    )
    return NewestSample(joins, value="t.value", kind="t.kind", unit="tp.unit", ts_ns="t.ts_ns")


def _schema_objects(conn: sqlite3.Connection) -> dict[str, str]:
    """Name -> type (table, view, index) of the schema objects in the file."""
    return dict(conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view', 'index')"))


def ensure_telemetry_schema(writer: sqlite3.Connection, where: str) -> tuple[list[str], list[str]]:
    """Create the telemetry tables of a file if missing, migrating the earlier layout; (created, changed) as report
    lines. Writes nothing when the file is current, so read-only files work."""
    kinds = _schema_objects(writer)
    changed = []
    if any(kinds.get(name) != kind for name, kind in _OBJECTS.items()):
        with transaction(writer):  # one bootstrap at a time per file, also across processes
            kinds = _schema_objects(writer)
            if kinds.get("telemetry_series") == "table":
                _migrate_wide_series(writer, where)
                changed.append("table telemetry_series split into telemetry_paths and telemetry_latest")
                kinds = _schema_objects(writer)
            for statement in _SCHEMA:
                writer.execute(statement)
    return [f"table {t}" for t in _TABLES if t not in kinds], changed


def _migrate_wide_series(writer: sqlite3.Connection, where: str) -> None:
    """Move `last_ns` of the earlier one-table layout into telemetry_latest (refusing a table of another shape)."""
    columns = tuple(row[1] for row in writer.execute("PRAGMA table_info(telemetry_series)"))
    if columns != _WIDE_SERIES_COLUMNS:
        raise StoreLayoutError(
            f"{where}: table telemetry_series has columns {', '.join(columns)}, not those of a Tiro"
            f" telemetry store ({', '.join(_WIDE_SERIES_COLUMNS)}); use another file"
        )
    for statement in _MIGRATE_WIDE_SERIES:
        writer.execute(statement)


class StoreLayoutError(StoreError):
    """The sqlite file holds tables of the telemetry store's names in a shape this version cannot use."""

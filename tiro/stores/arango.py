"""The ArangoDB graph store: bootstrap and topology sync from the model, bulk upserts, AQL queries with bind variables.

Layout of tiro-upstream §5 with keys qualified by asset path (tiro_models.graph_docs): vertex collections `Scenario`,
one per slot key, `Telemetry` and `Attribute`; edge collections `is_parent_of` and `has_data_point`; persistent
indexes on `path` and `asset_path`. Timestamps are stored as epoch seconds (upstream mixed ISO text and numbers, so
one of its two freshness checks was always wrong), and a data point never goes back to an older timestamp, so
replayed or late messages are harmless. Each `upsert_records` call is one AQL request (arango_aql.upsert_query).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tiro.stores.arango_aql import (
    FLOAT_KIND,
    ROOT_HANDLE,
    Query,
    attributes_and_missing_query,
    distinct_paths_query,
    latest_query,
    qpath_query,
    remove_stale_query,
    upsert_query,
)
from tiro.stores.arango_settings import ArangoSettings
from tiro.stores.base import BootstrapReport, GraphStore, Sample, StoreError
from tiro_models.graph_docs import (
    EDGE_COLLECTIONS,
    HAS_DATA_POINT,
    IS_PARENT_OF,
    ROOT_COLLECTION,
    collections_for_model,
    documents_for_records,
    edges_for_model,
    encode_key,
    root_vertex,
)
from tiro_models.line_protocol import epoch_seconds
from tiro_models.paths import compile_pattern
from tiro_models.qpath import QNode, QPath, parse_qpath
from tiro_models.spec import ATTRIBUTE, PATH_SEP, TELEMETRY, Instances, Model

if TYPE_CHECKING:
    from arango.client import ArangoClient

__all__ = ["ArangoGraphStore", "ArangoStoreError", "graph_documents", "nest_qpath_result"]

_POINT_COLLECTIONS = (TELEMETRY, ATTRIBUTE)
_INDEXED_FIELDS = (("path",), ("asset_path",))
# ArangoDB error numbers worth a sentence of their own
_ERR_DATABASE_NOT_FOUND = 1228
_ERR_COLLECTION_NOT_FOUND = 1203


class ArangoStoreError(StoreError):
    """An ArangoDB request failed; the text names the server (without secrets) and the cause."""


def graph_documents(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Documents to upsert per collection for flat records (epoch timestamps; the newest sample of a point wins)."""
    normalised = []
    for record in records:
        where = f"{record.get('asset_path')}.{record.get('type')}.{record.get('field')}"
        item = dict(record)
        item["timestamp"] = epoch_seconds(record.get("timestamp"), where)
        normalised.append(item)
    normalised.sort(key=lambda r: r["timestamp"])  # documents_for_records keeps the last of equal keys
    docs = documents_for_records(normalised)
    for collection in _POINT_COLLECTIONS:
        for doc in docs.vertices.get(collection, ()):
            doc["value_kind"] = FLOAT_KIND if type(doc["value"]) is float else None
    return {**docs.vertices, **docs.edges}


def stored_value(value: Any, kind: str | None) -> Any:
    """A value as it was written: JSON gives back 800.0 as 800, so floats are marked and restored."""
    if kind == FLOAT_KIND and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _sample(value: Any, ts: Any, unit: str | None, kind: str | None) -> Sample:
    return Sample(stored_value(value, kind), float(ts) if isinstance(ts, int | float) else ts, unit)


def _dp(value: Any, ts: Any, unit: str | None, kind: str | None = None) -> dict[str, Any]:
    dp: dict[str, Any] = {"value": stored_value(value, kind), "timestamp": float(ts) if isinstance(ts, int) else ts}
    if unit is not None:
        dp["unit"] = unit
    return dp


def nest_qpath_result(nodes: tuple[QNode, ...], results: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The nested snapshot of a qpath query's rows (same shape as every graph backend returns)."""
    out: dict[str, Any] = {}
    for node, assets in zip(nodes, results, strict=True):
        group: dict[str, Any] = {}
        for asset in assets:
            entity: dict[str, Any] = {}
            for category, name, value, ts, unit, kind in asset["points"]:
                entity.setdefault(category, {})[name] = _dp(value, ts, unit, kind)
            entity.update(nest_qpath_result(node.children, asset["children"]))
            if entity:
                group[asset["id"]] = entity
        if group:
            out.setdefault(node.slot, {}).update(group)
    return out


class ArangoGraphStore(GraphStore):
    """Assets, relationships and latest values in an ArangoDB graph."""

    def __init__(self, url: str | list[str], **options: Any) -> None:
        self.settings = ArangoSettings.from_url(url, **options)
        self._client: ArangoClient | None = None
        self._db: Any = None

    def __repr__(self) -> str:
        s = self.settings
        return f"ArangoGraphStore({s.public_url!r}, db_name={s.db_name!r}, graph_name={s.graph_name!r})"

    @property
    def client(self) -> ArangoClient:
        """The python-arango client, created on first use."""
        if self._client is None:
            from arango.client import ArangoClient  # imported on use: `import tiro.plugins.karez` stays light

            hosts = list(self.settings.hosts)
            self._client = ArangoClient(
                hosts=hosts[0] if len(hosts) == 1 else hosts, request_timeout=self.settings.timeout
            )
        return self._client

    def _database(self, name: str) -> Any:
        s = self.settings
        return self.client.db(name, username=s.username, password=s.password)

    @property
    def db(self) -> Any:
        """The store's database handle (no request is made until it is used)."""
        if self._db is None:
            self._db = self._database(self.settings.db_name)
        return self._db

    # ----- error handling -----
    def _error(self, what: str, exc: BaseException) -> ArangoStoreError:
        s = self.settings
        code = getattr(exc, "http_code", None)
        number = getattr(exc, "error_code", None)
        where = f"ArangoDB at {s.public_url}"
        if code == 401:
            return ArangoStoreError(f"{where}: {what}: user {s.username!r} was not accepted (HTTP 401)")
        if number == _ERR_DATABASE_NOT_FOUND:
            return ArangoStoreError(f"{where}: {what}: database {s.db_name!r} does not exist (run bootstrap)")
        if number == _ERR_COLLECTION_NOT_FOUND:
            cause = s.scrub(str(getattr(exc, "error_message", exc)))
            return ArangoStoreError(f"{where}: {what}: {cause} (run bootstrap)")
        if code is None and number is None:
            return ArangoStoreError(f"cannot reach {where}: {what}: {type(exc).__name__}: {s.scrub(str(exc))[:300]}")
        message = getattr(exc, "error_message", None) or str(exc)
        return ArangoStoreError(f"{where}: {what}: HTTP {code} error {number}: {s.scrub(str(message))[:300]}")

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._error(what, exc) from None

    def run(self, what: str, query: Query) -> Any:
        """Execute one AQL query (text and bind variables) and return its single result."""
        cursor = self._call(what, self.db.aql.execute, query.text, bind_vars=query.bind_vars)
        rows = list(cursor)
        return rows[0] if rows else None

    # ----- bootstrap -----
    def bootstrap(self, model: Model, instances: Instances | None = None) -> BootstrapReport:
        """Create database, collections, graph and indexes; remove topology that is no longer in the model."""
        s = self.settings
        report = BootstrapReport(store=f"{s.public_url} (database {s.db_name}, graph {s.graph_name})")
        system = self._database("_system")
        if not self._call("checking the database", system.has_database, s.db_name):
            self._call("creating the database", system.create_database, s.db_name)
            report.created.append(f"database {s.db_name}")
        db = self.db
        vertices = collections_for_model(model)
        edges = edges_for_model(model)
        for name in vertices:
            if not self._call(f"checking collection {name}", db.has_collection, name):
                self._call(f"creating collection {name}", db.create_collection, name)
                report.created.append(f"vertex collection {name}")
        for name in EDGE_COLLECTIONS:
            if not self._call(f"checking collection {name}", db.has_collection, name):
                self._call(f"creating collection {name}", db.create_collection, name, edge=True)
                report.created.append(f"edge collection {name}")
        previous = self._sync_graph(edges, report)
        for name in vertices:
            if name == ROOT_COLLECTION:
                continue
            collection = db.collection(name)
            for fields in _INDEXED_FIELDS:
                index = self._call(
                    f"indexing {name}", collection.add_index, {"type": "persistent", "fields": list(fields)}
                )
                if isinstance(index, dict) and (index.get("isNewlyCreated") or index.get("new")):
                    report.created.append(f"index {name}({', '.join(fields)})")
        self.run("storing the root vertex", upsert_query({ROOT_COLLECTION: [root_vertex()]}))
        self._remove_stale(model, instances, vertices, previous, report)
        if instances is not None:
            self._add_instances(instances, report)
        return report

    def _sync_graph(self, edges: list[dict[str, Any]], report: BootstrapReport) -> set[str]:
        """Create the graph or bring its edge definitions in line; returns the vertex collections it had before."""
        s = self.settings
        db = self.db
        if not self._call("checking the graph", db.has_graph, s.graph_name):
            self._call("creating the graph", db.create_graph, s.graph_name, edge_definitions=edges)
            report.created.append(f"graph {s.graph_name}")
            return set()
        graph = db.graph(s.graph_name)
        previous = set(self._call("reading the graph", graph.vertex_collections))
        current = {d["edge_collection"]: d for d in self._call("reading the graph", graph.edge_definitions)}
        for definition in edges:
            name = definition["edge_collection"]
            have = current.get(name)
            if have is None:
                self._call(f"defining {name}", graph.create_edge_definition, **definition)
                report.changed.append(f"edge definition {name}")
            elif (
                sorted(have["from_vertex_collections"]) != definition["from_vertex_collections"]
                or sorted(have["to_vertex_collections"]) != definition["to_vertex_collections"]
            ):
                self._call(f"redefining {name}", graph.replace_edge_definition, **definition)
                report.changed.append(f"edge definition {name}")
        return previous

    def _remove_stale(
        self,
        model: Model,
        instances: Instances | None,
        vertices: list[str],
        previous: set[str],
        report: BootstrapReport,
    ) -> None:
        wanted = set(vertices)
        vanished = sorted(previous - wanted - set(_POINT_COLLECTIONS))
        slot_collections = [v for v in vertices if v not in (ROOT_COLLECTION, *_POINT_COLLECTIONS)]
        keep = [asset.path for asset in instances.assets] if instances is not None else None
        query = remove_stale_query(slot_collections + vanished, list(model.slots), keep)
        gone = self.run("removing topology no longer in the scenario", query) or []
        report.removed.extend(f"asset {path}" for path in sorted(gone))
        if vanished:
            graph = self.db.graph(self.settings.graph_name)
            for name in vanished:
                try:  # replacing the edge definitions usually left it an orphan of the graph: detach it
                    self._call(f"detaching {name}", graph.delete_vertex_collection, name, purge=False)
                except ArangoStoreError:
                    pass  # not (or no longer) part of the graph: nothing to detach
                report.removed.append(f"vertex collection {name}")

    def _add_instances(self, instances: Instances, report: BootstrapReport) -> None:
        """Vertices and edges of every instance asset, and default points of the assets that are new."""
        stored_query = Query("")
        ipo = stored_query.bind("c", IS_PARENT_OF, collection=True)
        root = stored_query.bind("root", ROOT_HANDLE)
        depth = max((a.slot.type_path.count(PATH_SEP) + 1 for a in instances.assets), default=1)
        stored_query.text = (
            f"RETURN (FOR v IN 1..{int(depth)} OUTBOUND {root} {ipo}"
            ' OPTIONS {order: "bfs", uniqueVertices: "global"} RETURN v.asset_path)'
        )
        stored = set(self.run("reading stored assets", stored_query) or [])
        slot_of = {a.path: a.slot.name for a in instances.assets}
        docs: dict[str, list[dict[str, Any]]] = {}
        for asset in instances.assets:
            key = encode_key(asset.path)
            parent = ROOT_HANDLE if not asset.parent else f"{slot_of[asset.parent]}/{encode_key(asset.parent)}"
            vertex = {"_key": key, "name": asset.id, "path": asset.slot.type_path, "asset_path": asset.path}
            docs.setdefault(asset.slot.name, []).append(vertex)
            docs.setdefault(IS_PARENT_OF, []).append(
                {"_key": key, "_from": parent, "_to": f"{asset.slot.name}/{key}", "next_category": asset.slot.name}
            )
        new_assets = {a.path for a in instances.assets} - stored
        now = time.time()
        defaults = []
        for dp_path, spec in instances.points.items():
            asset_path = dp_path[: -len(spec.category) - len(spec.name) - 2]
            if spec.has_default and asset_path in new_assets:
                defaults.append(
                    {
                        "path": spec.type_path,
                        "asset_path": asset_path,
                        "type": spec.category,
                        "field": spec.name,
                        "value": spec.default,
                        "unit": spec.unit,
                        "timestamp": now,
                    }
                )
        if defaults:
            point_docs = graph_documents(defaults)
            for collection in (*_POINT_COLLECTIONS, HAS_DATA_POINT):
                if point_docs.get(collection):
                    docs[collection] = point_docs[collection]
        self.run("storing the scenario's assets", upsert_query(docs))
        if new_assets:
            report.created.append(f"{len(new_assets)} assets")

    # ----- upserts -----
    def upsert_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Upsert the assets, edges and data points of flat records in one request; replaying is harmless."""
        records = list(records)
        if not records:
            return 0
        docs = graph_documents(records)
        self.run(f"upserting {len(records)} records", upsert_query(docs))
        return len(records)

    # ----- queries -----
    @staticmethod
    def _cutoff(max_age: float | None) -> float | None:
        return None if max_age is None else time.time() - float(max_age)

    def latest(self, pattern: str | None = None, *, max_age: float | None = None) -> dict[str, Sample]:
        """The latest value per data-point path whose type path matches the %-pattern (fresh telemetry with max_age)."""
        paths = None
        if pattern is not None:
            fullmatch = compile_pattern(pattern).fullmatch
            stored = self.run("listing data-point type paths", distinct_paths_query()) or []
            paths = [p for p in stored if isinstance(p, str) and fullmatch(p)]
            if not paths:
                return {}
        rows = self.run("reading latest values", latest_query(paths, self._cutoff(max_age))) or []
        out = {
            f"{asset_path}{PATH_SEP}{category}{PATH_SEP}{name}": _sample(value, ts, unit, kind)
            for asset_path, category, name, value, ts, unit, kind in rows
        }
        return dict(sorted(out.items()))

    def query_qpath(self, qpath: Mapping[str, Any] | QPath, *, max_age: float | None = None) -> dict[str, Any]:
        """A nested snapshot of the assets the qpath keeps (semantics in tiro_models.qpath; `$lt` means less than)."""
        parsed = qpath if isinstance(qpath, QPath) else parse_qpath(qpath)
        results = self.run("running a qpath query", qpath_query(parsed, self._cutoff(max_age))) or []
        return nest_qpath_result(parsed.roots, results)

    def attributes_and_missing(self, model: Model, *, max_age: float = 300) -> dict[str, Sample | None]:
        """Every required point of stored assets: attributes always, telemetry when fresh, else None."""
        query = attributes_and_missing_query(list(model.slots), list(model.points), time.time() - max_age)
        result = self.run("reading attributes and missing points", query) or {"assets": [], "points": []}
        stored = {
            f"{asset_path}{PATH_SEP}{category}{PATH_SEP}{name}": _sample(value, ts, unit, kind)
            for asset_path, category, name, value, ts, unit, kind in result["points"]
        }
        out: dict[str, Sample | None] = {}
        for asset_path, type_path in sorted(result["assets"]):
            for spec in model.slots[type_path].points.values():
                dp_path = f"{asset_path}{PATH_SEP}{spec.category}{PATH_SEP}{spec.name}"
                out[dp_path] = stored.get(dp_path)
        return out

    def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            self._client.close()
            self._client = None
            self._db = None

"""ArangoDB graph documents for data-point records (tiro-upstream §5), with keys qualified by asset path.

Deliberate fix of upstream §5.2: a vertex `_key` is the encoded asset path (`DataHall.data_hall_0.Rack.rack_1`), not the
bare id, so the same id under two parents stays two vertices; a data point's `_key` is its encoded data-point path.
Edges are keyed by their child (`is_parent_of`) or data point (`has_data_point`), which is unique because every vertex
has exactly one parent. `encode_key` accepts any characters (upstream only replaced spaces).

Layout as upstream: root vertex `Scenario/000`; one vertex collection per slot key (`DataHall`, `Rack`, ...), shared by
all slots with that key; data points in `Telemetry` / `Attribute`; edges in `is_parent_of` and `has_data_point`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tiro_models.errors import SnapshotError
from tiro_models.paths import asset_pairs
from tiro_models.records import record_point
from tiro_models.spec import ATTRIBUTE, CATEGORIES, PATH_SEP, TELEMETRY, Model

__all__ = [
    "EDGE_COLLECTIONS",
    "HAS_DATA_POINT",
    "IS_PARENT_OF",
    "MAX_KEY_BYTES",
    "ROOT_COLLECTION",
    "ROOT_KEY",
    "GraphDocs",
    "collections_for_model",
    "decode_key",
    "documents_for_record",
    "documents_for_records",
    "edges_for_model",
    "encode_key",
    "is_hashed_key",
    "root_vertex",
]

ROOT_COLLECTION = "Scenario"
ROOT_KEY = "000"
IS_PARENT_OF = "is_parent_of"
HAS_DATA_POINT = "has_data_point"
EDGE_COLLECTIONS = (IS_PARENT_OF, HAS_DATA_POINT)
MAX_KEY_BYTES = 254

# ArangoDB allows [a-zA-Z0-9_\-:.@()+,=;$!*'%] in keys. "%" is our escape character and "$" marks a hashed key, so
# both are escaped too; everything else outside the set becomes %XX per UTF-8 byte (reversible, always ASCII).
_UNSAFE = re.compile(r"[^a-zA-Z0-9_\-:.@()+,=;!*']+")
_ESCAPED = re.compile(r"%([0-9A-F]{2})")
_VALID_ENCODED = re.compile(r"(?:[a-zA-Z0-9_\-:.@()+,=;!*']|%[0-9A-F]{2})+")
_HASH_MARK = "$"
_HASH_HEX = 40  # blake2b digest of 20 bytes


def _escape_run(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))


@lru_cache(maxsize=65_536)
def encode_key(text: str) -> str:
    """A valid ArangoDB `_key` for any non-empty string: reversible %XX escaping, hashed when over 254 bytes."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"cannot make an ArangoDB key of {text!r}: a non-empty string is required")
    key = _UNSAFE.sub(_escape_run, text)
    if len(key) > MAX_KEY_BYTES:
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=_HASH_HEX // 2).hexdigest()
        key = key[: MAX_KEY_BYTES - 1 - _HASH_HEX] + _HASH_MARK + digest
    return key


def is_hashed_key(key: str) -> bool:
    """True when `encode_key` had to shorten the text with a hash (the key then cannot be decoded)."""
    return _HASH_MARK in key


def decode_key(key: str) -> str:
    """The text `encode_key` encoded; ValueError for a hashed (too long) key or anything encode_key cannot produce."""
    if _HASH_MARK in key:
        raise ValueError(f"key {key[:40]!r}... was shortened with a hash: read the document's name/asset_path instead")
    if not _VALID_ENCODED.fullmatch(key):
        raise ValueError(f"{key!r} is not a key produced by encode_key")
    if "%" not in key:
        return key
    raw = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), key).encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{key!r} is not a key produced by encode_key (bad UTF-8 escape)") from None


@dataclass(slots=True)
class GraphDocs:
    """Vertices and edges to upsert, by collection name: plain dicts ready for bulk imports."""

    vertices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    edges: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add_vertex(self, collection: str, doc: dict[str, Any]) -> None:
        """Append a vertex document to its collection."""
        self.vertices.setdefault(collection, []).append(doc)

    def add_edge(self, collection: str, doc: dict[str, Any]) -> None:
        """Append an edge document to its collection."""
        self.edges.setdefault(collection, []).append(doc)

    def count(self) -> int:
        """How many documents there are in all."""
        return sum(map(len, self.vertices.values())) + sum(map(len, self.edges.values()))


def root_vertex() -> dict[str, Any]:
    """The root document `Scenario/000`."""
    return {"_key": ROOT_KEY, "name": ROOT_KEY, "path": ""}


_RECORD_KEYS = frozenset({"path", "asset_path", "type", "field", "value", "unit", "timestamp"})


_CHAIN_CACHE_LIMIT = 65_536
_chains: dict[str, tuple[tuple[tuple[str, dict[str, Any], dict[str, Any]], ...], str, str, frozenset[str]]] = {}


def _asset_chain(
    asset_path: str,
) -> tuple[tuple[tuple[str, dict[str, Any], dict[str, Any]], ...], str, str, frozenset[str]]:
    """Per asset along the path: (collection, vertex, is_parent_of edge); plus the last handle, type path, types."""
    chain = _chains.get(asset_path)
    if chain is None:
        pairs = asset_pairs(asset_path)
        if not pairs:
            raise SnapshotError("a data point needs an asset path")
        items = []
        parent_handle = f"{ROOT_COLLECTION}/{ROOT_KEY}"
        prefix = type_prefix = ""
        for type_name, asset_id in pairs:
            prefix = (
                f"{prefix}{PATH_SEP}{type_name}{PATH_SEP}{asset_id}" if prefix else f"{type_name}{PATH_SEP}{asset_id}"
            )
            type_prefix = f"{type_prefix}{PATH_SEP}{type_name}" if type_prefix else type_name
            key = encode_key(prefix)
            handle = f"{type_name}/{key}"
            vertex = {"_key": key, "name": asset_id, "path": type_prefix, "asset_path": prefix}
            edge = {"_key": key, "_from": parent_handle, "_to": handle, "next_category": type_name}
            items.append((type_name, vertex, edge))
            parent_handle = handle
        if len(_chains) >= _CHAIN_CACHE_LIMIT:
            _chains.clear()
        chain = _chains[asset_path] = (tuple(items), parent_handle, type_prefix, frozenset(t for t, _ in pairs))
    return chain


def documents_for_record(record: Mapping[str, Any]) -> GraphDocs:
    """The root, one vertex per asset along the record's asset path, the data-point document, and their edges."""
    asset_path, category, name = record_point(record)
    if category not in CATEGORIES:
        raise SnapshotError(f"{asset_path}.{category}.{name}: type must be one of {CATEGORIES}")
    try:
        items, entity_handle, type_path, type_names = _asset_chain(asset_path)
    except SnapshotError as exc:
        raise SnapshotError(f"{asset_path}.{category}.{name}: {exc.message}") from None
    vertices: dict[str, list[dict[str, Any]]] = {ROOT_COLLECTION: [root_vertex()]}
    parent_edges = []
    for collection, vertex, edge in items:
        vertices.setdefault(collection, []).append(dict(vertex))  # copies: callers may add fields
        parent_edges.append(dict(edge))
    dp_key = encode_key(f"{asset_path}{PATH_SEP}{category}{PATH_SEP}{name}")
    dp_doc: dict[str, Any] = {
        "_key": dp_key,
        "type": category,
        "name": name,
        "value": record.get("value"),
        "unit": record.get("unit"),
        "timestamp": record.get("timestamp"),
        "path": record.get("path", f"{type_path}{PATH_SEP}{name}"),
        "asset_path": asset_path,
    }
    for extra, value in record.items():
        if extra not in _RECORD_KEYS and extra not in type_names and not extra.startswith("_"):
            dp_doc[extra] = value
    vertices.setdefault(category, []).append(dp_doc)
    point_edge = {"_key": dp_key, "_from": entity_handle, "_to": f"{category}/{dp_key}", "next_category": name}
    return GraphDocs(vertices=vertices, edges={IS_PARENT_OF: parent_edges, HAS_DATA_POINT: [point_edge]})


def documents_for_records(records: Iterable[Mapping[str, Any]]) -> GraphDocs:
    """Documents of many records with duplicates removed per collection and key (a later record wins)."""
    vertices: dict[str, dict[str, dict[str, Any]]] = {}
    edges: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        docs = documents_for_record(record)
        for collection, items in docs.vertices.items():
            by_key = vertices.setdefault(collection, {})
            for doc in items:
                by_key[doc["_key"]] = doc
        for collection, items in docs.edges.items():
            by_key = edges.setdefault(collection, {})
            for doc in items:
                by_key[doc["_key"]] = doc
    return GraphDocs(
        vertices={c: list(d.values()) for c, d in vertices.items()},
        edges={c: list(d.values()) for c, d in edges.items()},
    )


def collections_for_model(model: Model) -> list[str]:
    """Vertex collections for a model: `Scenario`, one per slot key (first-seen order), `Telemetry`, `Attribute`."""
    names: dict[str, None] = {ROOT_COLLECTION: None}
    for slot in model.walk():
        names[slot.name] = None
    names[TELEMETRY] = None
    names[ATTRIBUTE] = None
    return list(names)


def edges_for_model(model: Model) -> list[dict[str, Any]]:
    """Edge definitions (python-arango `create_graph` form) for `is_parent_of` and `has_data_point`."""
    parent_from: dict[str, None] = {}
    parent_to: dict[str, None] = {}
    point_from: dict[str, None] = {}
    point_to: dict[str, None] = {}
    if model.roots:
        parent_from[ROOT_COLLECTION] = None
    for root in model.roots.values():
        parent_to[root.name] = None
    for slot in model.walk():
        for child in slot.children.values():
            parent_from[slot.name] = None
            parent_to[child.name] = None
        for point in slot.points.values():
            point_from[slot.name] = None
            point_to[point.category] = None
    return [
        {
            "edge_collection": IS_PARENT_OF,
            "from_vertex_collections": sorted(parent_from),
            "to_vertex_collections": sorted(parent_to),
        },
        {
            "edge_collection": HAS_DATA_POINT,
            "from_vertex_collections": sorted(point_from),
            "to_vertex_collections": sorted(point_to),
        },
    ]

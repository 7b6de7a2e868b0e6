"""AQL for the ArangoDB graph store, as (query text, bind variables) pairs.

Every value that comes from data or from a user (keys, ids, patterns, qpath operands, collection names) travels in a
bind variable; the query text only depends on the *shape* of the request (how many collections, which qpath nodes
and filter operators), never on its values. Bind names are generated (`c0`, `n3_v1`), not derived from user text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiro_models.graph_docs import HAS_DATA_POINT, IS_PARENT_OF, ROOT_COLLECTION, ROOT_KEY
from tiro_models.qpath import QNode, QPath
from tiro_models.spec import ATTRIBUTE, TELEMETRY

__all__ = [
    "Query",
    "attributes_and_missing_query",
    "distinct_paths_query",
    "latest_query",
    "qpath_query",
    "remove_stale_query",
    "upsert_query",
]

ROOT_HANDLE = f"{ROOT_COLLECTION}/{ROOT_KEY}"
# ArangoDB returns a float with an integral value as a JSON integer; points mark floats so reads restore the type.
FLOAT_KIND = "float"
# AQL operators of the qpath comparisons; `lt` is "<" (upstream emitted ">")
_COMPARE = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


@dataclass
class Query:
    """An AQL query and its bind variables (`@name` values, `@@name` collections)."""

    text: str
    bind_vars: dict[str, Any] = field(default_factory=dict)

    def bind(self, prefix: str, value: Any, collection: bool = False) -> str:
        """Add a bind variable with a fresh name and return how the query refers to it."""
        name = f"{prefix}{len(self.bind_vars)}"
        self.bind_vars[f"@{name}" if collection else name] = value
        return f"@@{name}" if collection else f"@{name}"


def upsert_query(docs_by_collection: Mapping[str, Sequence[Mapping[str, Any]]]) -> Query:
    """One query upserting every collection's documents by `_key`; a point never goes back to an older timestamp."""
    q = Query("")
    parts = []
    for i, (collection, docs) in enumerate(docs_by_collection.items()):
        if not docs:
            continue
        coll = q.bind("c", collection, collection=True)
        items = q.bind("docs", list(docs))
        d = f"d{i}"  # loop variables are unique across the query: AQL refuses to redeclare one
        parts.append(
            f"LET r{i} = (FOR {d} IN {items}"
            f" UPSERT {{_key: {d}._key}} INSERT {d}"
            f" UPDATE ((HAS({d}, 'timestamp') AND OLD.timestamp != null AND {d}.timestamp < OLD.timestamp)"
            f" ? {{}} : {d})"
            f" IN {coll} RETURN 1)"
        )
    counts = ", ".join(f"LENGTH(r{i})" for i, (_, docs) in enumerate(docs_by_collection.items()) if docs)
    q.text = "\n".join(parts) + f"\nRETURN SUM([{counts}])"
    return q


def distinct_paths_query() -> Query:
    """The distinct type paths of stored data points (for matching %-patterns in Python, like every backend)."""
    q = Query("")
    t = q.bind("c", TELEMETRY, collection=True)
    a = q.bind("c", ATTRIBUTE, collection=True)
    q.text = (
        f"RETURN UNION_DISTINCT((FOR dt IN {t} COLLECT pt = dt.path RETURN pt),"
        f" (FOR da IN {a} COLLECT pa = da.path RETURN pa))"
    )
    return q


def _point_row(var: str) -> str:
    return f"[{var}.asset_path, {var}.type, {var}.name, {var}.value, {var}.timestamp, {var}.unit, {var}.value_kind]"


def _value_text(pair: str) -> str:
    """AQL for the text of a `[value, value_kind]` pair as Python's str() gives it (`120.0`, not JSON's `120`)."""
    value, kind = f"{pair}[0]", f"{pair}[1]"
    return (
        f"(IS_STRING({value}) ? {value} : ({kind} == '{FLOAT_KIND}' AND FLOOR({value}) == {value}"
        f" ? CONCAT(TO_STRING({value}), '.0') : TO_STRING({value})))"
    )


def _latest_expr(q: Query, type_paths: Sequence[str] | None, cutoff: float | None) -> str:
    t = q.bind("c", TELEMETRY, collection=True)
    a = q.bind("c", ATTRIBUTE, collection=True)
    paths = q.bind("paths", list(type_paths) if type_paths is not None else None)
    since = q.bind("cutoff", cutoff)
    return (
        f"APPEND("
        f"(FOR dt IN {t} FILTER ({paths} == null OR dt.path IN {paths})"
        f" AND ({since} == null OR dt.timestamp >= {since}) RETURN {_point_row('dt')}), "
        f"(FOR da IN {a} FILTER ({paths} == null OR da.path IN {paths}) RETURN {_point_row('da')}))"
    )


def latest_query(type_paths: Sequence[str] | None, cutoff: float | None) -> Query:
    """Latest value rows `[asset_path, category, name, value, timestamp, unit]` of points with these type paths.

    `type_paths` None means all; telemetry older than `cutoff` (epoch seconds) is left out, attributes never are.
    """
    q = Query("")
    q.text = "RETURN " + _latest_expr(q, type_paths, cutoff)
    return q


def attributes_and_missing_query(slot_paths: Sequence[str], point_paths: Sequence[str], cutoff: float) -> Query:
    """Stored assets `[asset_path, type path]` of the model's slots and the fresh value rows of its required points."""
    q = Query("")
    ipo = q.bind("c", IS_PARENT_OF, collection=True)
    root = q.bind("root", ROOT_HANDLE)
    slots = q.bind("slots", list(slot_paths))
    depth = max((p.count(".") + 1 for p in slot_paths), default=1)  # an int computed here, not user text
    points = _latest_expr(q, point_paths, cutoff)
    q.text = (
        f"LET assets = (FOR v IN 1..{int(depth)} OUTBOUND {root} {ipo}"
        ' OPTIONS {order: "bfs", uniqueVertices: "global"}'
        f" FILTER v.path IN {slots} RETURN [v.asset_path, v.path])\n"
        f"LET points = {points}\n"
        "RETURN {assets, points}"
    )
    return q


def remove_stale_query(collections: Sequence[str], slot_paths: Sequence[str], keep: Sequence[str] | None) -> Query:
    """Remove assets of vanished slots (and, with `keep`, assets not listed), their points and edges."""
    q = Query("")
    slots = q.bind("slots", list(slot_paths))
    keeping = q.bind("keep", list(keep) if keep is not None else None)
    parts = []
    gone = []
    for i, collection in enumerate(collections):
        coll = q.bind("c", collection, collection=True)
        parts.append(
            f"LET g{i} = (FOR a{i} IN {coll}"
            f" FILTER a{i}.path NOT IN {slots} OR ({keeping} != null AND a{i}.asset_path NOT IN {keeping})"
            f" REMOVE a{i} IN {coll} RETURN [OLD.asset_path, OLD._id])"
        )
        gone.append(f"g{i}")
    t = q.bind("c", TELEMETRY, collection=True)
    a = q.bind("c", ATTRIBUTE, collection=True)
    ipo = q.bind("c", IS_PARENT_OF, collection=True)
    hdp = q.bind("c", HAS_DATA_POINT, collection=True)
    joined = f"UNION({', '.join(gone)}, [])" if len(gone) > 1 else (gone[0] if gone else "[]")
    parts.append(f"LET gone = {joined}")
    parts.append("LET gone_paths = gone[*][0]")
    parts.append("LET gone_handles = gone[*][1]")
    parts.append(f"LET pt = (FOR xt IN {t} FILTER xt.asset_path IN gone_paths REMOVE xt IN {t} RETURN 1)")
    parts.append(f"LET pa = (FOR xa IN {a} FILTER xa.asset_path IN gone_paths REMOVE xa IN {a} RETURN 1)")
    parts.append(
        f"LET ep = (FOR xe IN {ipo} FILTER xe._to IN gone_handles OR xe._from IN gone_handles"
        f" REMOVE xe IN {ipo} RETURN 1)"
    )
    parts.append(f"LET eh = (FOR xh IN {hdp} FILTER xh._from IN gone_handles REMOVE xh IN {hdp} RETURN 1)")
    parts.append("RETURN gone_paths")
    q.text = "\n".join(parts)
    return q


class _QPathBuilder:
    """Nested subqueries, one per qpath node, walking `is_parent_of` down from the root vertex."""

    def __init__(self, cutoff: float | None) -> None:
        self.q = Query("")
        self.ipo = self.q.bind("c", IS_PARENT_OF, collection=True)
        self.hdp = self.q.bind("c", HAS_DATA_POINT, collection=True)
        self.cutoff = self.q.bind("cutoff", cutoff)
        self.count = 0

    def node(self, node: QNode, parent: str, indent: str) -> str:
        """A subquery returning `{id, points, children}` for the kept assets of `node` under vertex `parent`."""
        n = self.count
        self.count += 1
        a, pts = f"a{n}", f"p{n}"
        type_path = self.q.bind("tp", node.type_path)
        lines = [
            f"(FOR {a} IN 1..1 OUTBOUND {parent} {self.ipo}",
            f"  FILTER {a}.path == {type_path}",
        ]
        if node.name_match is not None:
            lines.append(f"  FILTER REGEX_TEST({a}.name, {self.q.bind('name_re', node.name_match)})")
        d = f"d{n}"  # every loop variable is unique in the whole query: AQL refuses to redeclare one
        fresh = f"({self.cutoff} == null OR {d}.type == '{ATTRIBUTE}' OR {d}.timestamp >= {self.cutoff})"
        lines.append(f"  LET {pts} = (FOR {d} IN 1..1 OUTBOUND {a} {self.hdp} FILTER {fresh} RETURN {d})")
        for k, point in enumerate(node.filtered_points):
            value = f"v{n}_{k}"
            name = self.q.bind("point", point.stored_name)
            f_var = f"f{n}_{k}"
            lines.append(
                f"  LET {value} = FIRST(FOR {f_var} IN {pts} FILTER {f_var}.name == {name}"
                f" RETURN [{f_var}.value, {f_var}.value_kind])"
            )
            for f in point.filters:
                operand = self.q.bind("operand", f.operand)
                if f.op in _COMPARE:
                    test = f"IS_NUMBER({value}[0]) AND {value}[0] {_COMPARE[f.op]} {operand}"
                else:
                    found = f"REGEX_TEST({_value_text(value)}, {operand})"
                    test = f"{found}" if f.op == "match" else f"NOT {found}"
                lines.append(f"  FILTER {value} != null AND {value}[0] != null AND {test}")
        names = node.output_names()
        shown = self.q.bind("names", sorted(names) if names is not None else None)
        children = [self.node(child, a, indent + "  ") for child in node.children]
        child_list = "[" + ", ".join(children) + "]"
        lines.append(
            f"  RETURN {{id: {a}.name, points: (FOR o{n} IN {pts} FILTER {shown} == null OR o{n}.name IN {shown}"
            f" RETURN [o{n}.type, o{n}.name, o{n}.value, o{n}.timestamp, o{n}.unit, o{n}.value_kind]),"
            f" children: {child_list}}})"
        )
        return f"\n{indent}".join(lines)

    def build(self, qpath: QPath) -> Query:
        root = self.q.bind("root", ROOT_HANDLE)
        roots = [self.node(node, root, "  ") for node in qpath.roots]
        self.q.text = "RETURN [" + ",\n".join(roots) + "]"
        return self.q


def qpath_query(qpath: QPath, cutoff: float | None) -> Query:
    """One query for a parsed qpath: per root node a list of kept assets with their points and child lists."""
    return _QPathBuilder(cutoff).build(qpath)

"""Fused chains: a role hands items to converters of its own process in memory, not over NATS.

A fused converter's outputs are published by the role that received the message (the chain's head), with the head's
delivery: in durable mode the head's input is acknowledged only after every output of the whole chain is stored. So a
converter is fused into a head only when that keeps its guarantee: a durable converter only into a head whose input
is redelivered on failure. The converters keep their own subscriptions, for publishers in other processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import is_, itemgetter
from typing import TYPE_CHECKING, Any

from karez.config import switch
from karez.frames import count_items, count_outputs, expand
from karez.routing import META_KEY
from karez.subjects import converter_subject

if TYPE_CHECKING:
    from karez.role import RoleBase

_subject, _item = itemgetter(0), itemgetter(1)


def fusable(head: RoleBase, converter: RoleBase) -> bool:
    """Whether `head` may call `converter` in memory: both allow it, and a durable converter's input stays durable."""
    if head is converter or not _fuses(head) or not _fuses(converter):
        return False
    return head.delivery.redelivers or not converter.delivery.redelivers


def plan_fusion(heads: Iterable[RoleBase], converters: Iterable[RoleBase]) -> None:
    """Give each head (a connector or converter) the converters of this process it hands items to in memory."""
    by_subject = {converter_subject(c.name): c for c in converters}
    for head in heads:
        head.fused = {subject: c for subject, c in by_subject.items() if fusable(head, c)}


def fused_links(heads: Iterable[RoleBase]) -> list[str]:
    """`head → converter, …` for each head that hands items to converters of its targets in memory (for the log)."""
    links = []
    for head in heads:
        names = [name for name in getattr(head, "targets", ()) if name and converter_subject(name) in head.fused]
        if names:
            links.append(f"{head.name} → {', '.join(names)}")
    return links


async def fused_outputs(
    head: RoleBase, outputs: list[tuple[str, Any]], chain: tuple[str, ...] = ()
) -> list[tuple[str, Any]]:
    """`outputs` with every item routed to a fused converter replaced by what that converter (and the converters it
    is fused to in turn) makes of it: the outputs that still have to be published. `chain`: the converter subjects
    already called for these items, which a cycle along `next` reaches over NATS again, as unfused."""
    local = head.fused
    if not local or not outputs:
        return outputs
    subjects = list(map(_subject, outputs))
    distinct = dict.fromkeys(subjects)  # in order of first appearance
    if chain:
        local = {subject: c for subject, c in local.items() if subject not in chain}
    if distinct.keys().isdisjoint(local):
        return outputs
    groups, remote = split_for_fusion(subjects, list(map(_item, outputs)), list(distinct), local)
    for subject, items in groups.items():
        converter = local[subject]
        if converter.frames_encoding is None:
            items = expand(items)  # a converter that does not take frames gets their rows, as over NATS
        converter.stats.received += count_items(items)
        converted = await converter.handle_items(items, subject)
        converter.stats.published += count_outputs(converted)
        remote += await fused_outputs(head, converted, (*chain, subject))
    return remote


def split_for_fusion(
    subjects: list[str], items: list[Any], distinct: list[str], local: Mapping[str, Any]
) -> tuple[dict[str, list[Any]], list[tuple[str, Any]]]:
    """The items of each fused converter's subject, and the (subject, item) pairs left to publish.

    An item routed to several subjects is copied before any converter runs, since a converter may edit its input; one
    fused converter may take the original, unless the item is also published (it is encoded after the converters ran).
    The kernel of fused chains (bench/bus.py): the two shapes `route` gives, one subject or every item to the same k
    subjects in turn, are split with slices and C-level passes; any other shape item by item."""
    n, k = len(items), len(distinct)
    if k == 1 and _all_distinct(items):
        return {distinct[0]: items}, []
    if n % k == 0 and subjects == distinct * (n // k):
        columns = [items[j::k] for j in range(k)]
        first = columns[0]
        if _all_distinct(first) and all(all(map(is_, first, column)) for column in columns[1:]):
            remote = [(subject, item) for subject in distinct if subject not in local for item in first]
            groups: dict[str, list[Any]] = {}
            original_taken = bool(remote)
            for subject in distinct:
                if subject in local:
                    groups[subject] = _copies(first) if original_taken else first
                    original_taken = True
            return groups, remote
    return _split_item_by_item(subjects, items, local)


def _split_item_by_item(
    subjects: list[str], items: list[Any], local: Mapping[str, Any]
) -> tuple[dict[str, list[Any]], list[tuple[str, Any]]]:
    ids = list(map(id, items))
    seen: set[int] = set()
    shared: set[int] = set()
    for key in ids:
        (shared if key in seen else seen).add(key)
    owned = {key for subject, key in zip(subjects, ids, strict=True) if subject not in local} if shared else set()
    remote: list[tuple[str, Any]] = []
    groups: dict[str, list[Any]] = {}
    for subject, item, key in zip(subjects, items, ids, strict=True):
        if subject not in local:
            remote.append((subject, item))
            continue
        if key in shared:
            if key in owned:
                item = _copy(item)
            else:
                owned.add(key)
        groups.setdefault(subject, []).append(item)
    return groups, remote


def _all_distinct(items: list[Any]) -> bool:
    return len(set(map(id, items))) == len(items)


def _copies(items: list[Any]) -> list[Any]:
    """`_copy` of each item; the usual batch (dicts, each with a dict meta) in one comprehension."""
    try:
        return [{**item, META_KEY: {**item[META_KEY]}} for item in items]
    except (TypeError, KeyError):
        return [_copy(item) for item in items]


def _copy(item: Any) -> Any:
    """An item a converter can edit without changing the other targets' copy: the object and its meta are new."""
    if type(item) is not dict:
        return item
    copy = dict(item)
    meta = copy.get(META_KEY)
    if type(meta) is dict:
        copy[META_KEY] = dict(meta)
    return copy


def _fuses(role: RoleBase) -> bool:
    return switch(role.config.fuse, f"{role.name}: fuse")

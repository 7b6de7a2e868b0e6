"""Where an item goes next and which meta it carries: the one routing rule and the one meta merge of every role kind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any

from karez.subjects import category_subject, converter_subject

META_KEY = "_karez"
"""The key of the routing meta inside an item (`category` and anything upstream roles add)."""


def merged_meta(source_meta: dict[str, Any] | None, own: dict[str, Any] | None) -> dict[str, Any]:
    """An output's meta: its source's meta overlaid with its own (a new dict; neither input is changed)."""
    if own and source_meta:
        return {**source_meta, **own}
    return dict(own or source_meta or {})


def with_source_meta(outputs: Iterable[Any], source: dict[str, Any]) -> list[Any]:
    """Converter outputs with the meta of the item they came from merged in: new dicts, except an output that is the
    source itself (edited in place, so the merge is a no-op); items that are not objects pass unchanged."""
    source_meta = source.get(META_KEY)
    merged: list[Any] = []
    append = merged.append
    for item in outputs:
        if item is source:
            if source_meta is None:
                item[META_KEY] = {}
            append(item)
        elif type(item) is dict:
            item = dict(item)
            item[META_KEY] = merged_meta(source_meta, item.get(META_KEY))
            append(item)
        else:
            append(item)
    return merged


def ensure_meta(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same items, each given an empty meta where it has none (outputs of converters that edit in place)."""
    if not all(map(dict.__contains__, items, repeat(META_KEY))):  # the usual batch already has them: one C pass
        for item in items:
            item.setdefault(META_KEY, {})
    return items


def route(items: Sequence[Any], targets: Sequence[str | None], publisher: str) -> list[tuple[str, Any]]:
    """(subject, item) pairs in upstream order, each item to every target in turn: a converter by name, or for a
    null target the aggregators of the item's category (the default category when it has none)."""
    if len(targets) == 1:  # the common case, built as one list
        target = targets[0]
        if target:
            subject = converter_subject(target)
            return [(subject, item) for item in items]
        return [(_category_subject(item, publisher), item) for item in items]
    subjects = [converter_subject(target) if target else None for target in targets]
    return [(subject or _category_subject(item, publisher), item) for item in items for subject in subjects]


def _category_subject(item: Any, publisher: str) -> str:
    meta = item.get(META_KEY) if type(item) is dict else None
    return category_subject(meta.get("category") if meta else None, publisher)

"""Batch fast paths give exactly what the per-item paths give: `convert_batch`, grouped encoding."""

from __future__ import annotations

import copy

import orjson

from karez import codec
from karez.converter.base import ConverterBase
from karez.converter.extras.echo import Converter as Echo
from karez.converter.extras.filter_and_update_meta import Converter as FilterMeta


class PerItemFilter(FilterMeta):
    """Overrides `convert`, so the inherited `convert_batch` must not be used."""

    def convert(self, payload):
        yield from super().convert(payload)


def _inputs() -> list:
    return [
        {"v": 1, "_karez": {"category": "telemetry", "src": "a"}},
        {"v": 2, "_karez": {"category": "attribute"}},
        {"v": 3, "_karez": {"category": "other"}},
        {"v": 4},
        "not an object",
        {"v": 5, "_karez": {"category": ["unhashable"]}},
        {"v": 6, "_karez": {"category": "telemetry"}},
    ]


def test_convert_batch_is_only_used_by_the_class_that_defines_convert():
    assert FilterMeta._batch_conversion is FilterMeta.__dict__["convert_batch"]
    assert Echo._batch_conversion is Echo.__dict__["convert_batch"]
    assert PerItemFilter._batch_conversion is ConverterBase.convert_batch  # its generator `convert`, item by item

    class AsyncConvert(ConverterBase):
        async def convert(self, payload):
            return [payload]

    assert AsyncConvert._batch_conversion is None  # one awaited call per item


async def test_filter_batch_path_equals_per_item_path(caplog):
    cfg = {"key": "category", "filter": "telemetry,attribute", "rename": {"telemetry": "graph"}, "next": [None, "z"]}
    fast = FilterMeta({"type": "filter_and_update_meta", "name": "f", **cfg}, nats_addr=None)
    slow = PerItemFilter({"type": "filter_and_update_meta", "name": "f", **cfg}, nats_addr=None)
    fast_out = await fast.handle_items(copy.deepcopy(_inputs()), "karez.converter.f")
    slow_out = await slow.handle_items(copy.deepcopy(_inputs()), "karez.converter.f")
    assert fast_out == slow_out
    assert [(s, item["v"]) for s, item in fast_out] == [  # each item to every target in turn, as upstream
        ("karez.graph.f", 1),
        ("karez.converter.z", 1),
        ("karez.attribute.f", 2),
        ("karez.converter.z", 2),
        ("karez.graph.f", 6),
        ("karez.converter.z", 6),
    ]
    # the non-object is dropped and the unhashable value is logged with the subject, by both paths alike
    assert (fast.stats.dropped, fast.stats.errors) == (slow.stats.dropped, slow.stats.errors) == (1, 1)
    assert "karez.converter.f" in caplog.text


async def test_echo_batch_path_adds_empty_meta_like_the_per_item_path():
    echo = Echo({"type": "echo", "name": "e", "next": "n"}, nats_addr=None)
    out = await echo.handle_items([{"a": 1}, {"b": 2, "_karez": {"k": 1}}], "s")
    assert out == [("karez.converter.n", {"a": 1, "_karez": {}}), ("karez.converter.n", {"b": 2, "_karez": {"k": 1}})]


def test_batch_encoding_replaces_as_is_items_only_when_present():
    plain = [{"a": i, "text": 'says "_as_is" inside'} for i in range(3)]
    assert codec.encode_batch(plain) == orjson.dumps(plain)
    mixed = [{"a": 1}, {"_as_is": {"raw": True}}, {"nested": {"_as_is": "kept"}}]
    assert orjson.loads(codec.encode_batch(mixed)) == [{"a": 1}, {"raw": True}, {"nested": {"_as_is": "kept"}}]
    assert codec.encode_batch([{"_as_is": "l1"}, {"_as_is": "l2"}]) == b"l1\nl2"


def test_batch_outputs_group_by_subject_keeping_order():
    echo = Echo({"type": "echo", "name": "e", "batch": True}, nats_addr=None)
    assert echo.encode_outputs([]) == []  # durable consumers encode whatever a message gave, nothing included
    same = echo.encode_outputs([("s", {"i": i}) for i in range(5)])
    assert [(s, orjson.loads(b), n) for s, b, n, _ in same] == [("s", [{"i": i} for i in range(5)], 5)]
    mixed = echo.encode_outputs([("a", {"i": 0}), ("b", {"i": 1}), ("a", {"i": 2})])
    assert [(s, orjson.loads(b), n) for s, b, n, _ in mixed] == [("a", [{"i": 0}, {"i": 2}], 2), ("b", [{"i": 1}], 1)]


def test_items_fanned_out_to_several_subjects_are_encoded_once(monkeypatch):
    echo = Echo({"type": "echo", "name": "e", "batch": True}, nats_addr=None)
    items = [{"i": i} for i in range(2500)]
    equal_copies = [{"i": i} for i in range(2500)]  # equal but other objects: encoded on their own
    calls = []
    encode = codec.encode_batch
    monkeypatch.setattr(codec, "encode_batch", lambda batch: calls.append(len(batch)) or encode(batch))
    outputs = [*(("a", m) for m in items), *(("b", m) for m in items), *(("c", m) for m in equal_copies)]
    bodies = echo.encode_outputs(outputs)
    assert calls == [1000, 1000, 500] * 2  # a's three bodies serve b too; c's are its own
    assert [(s, n) for s, _, n, _ in bodies] == [(s, n) for s in "abc" for n in (1000, 1000, 500)]
    by_subject = {s: [item for t, b, _, _ in bodies if t == s for item in orjson.loads(b)] for s in "abc"}
    assert by_subject == {"a": items, "b": items, "c": items}

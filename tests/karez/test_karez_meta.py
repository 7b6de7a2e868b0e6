"""Meta helpers and subjects of RoleBase (upstream semantics, pop_meta fixed)."""

from __future__ import annotations

from karez.aggregator.base import AggregatorBase
from karez.converter.extras.echo import Converter
from karez.role import RoleBase


def test_update_meta_creates_and_returns_same_dict():
    d = {"a": 1}
    assert RoleBase.update_meta(d, category="x") is d
    assert d["_karez"] == {"category": "x"}


def test_copy_meta_merges_new_over_old_without_mutating_new():
    new = {"v": 1, "_karez": {"category": "b"}}
    old = {"_karez": {"category": "a", "source": "s"}}
    out = RoleBase.copy_meta(new, old)
    assert out == {"v": 1, "_karez": {"category": "b", "source": "s"}}
    assert new == {"v": 1, "_karez": {"category": "b"}}
    RoleBase.copy_meta({}, old, clear_old=True)
    assert "_karez" not in old


def test_pop_meta_pops_from_meta_not_top_level():
    d = {"k": 1, "_karez": {"k": 2}}
    assert RoleBase.pop_meta(d, "k") == 2
    assert d == {"k": 1, "_karez": {}}
    assert RoleBase.get_meta(d, "k", "dflt") == "dflt"
    assert RoleBase.clear_meta(d) == {"k": 1}


def test_subjects_and_queue_groups():
    c = Converter({"type": "echo", "name": "c1"}, nats_addr=None)
    assert (c.subscribe_topic, c.subscribe_queue) == ("karez.converter.c1", "converter.c1")
    assert c.aggregator_topic({"_karez": {"category": "attr"}}) == "karez.attr.c1"
    assert c.aggregator_topic({}) == "karez.telemetry.c1"

    class Agg(AggregatorBase):
        def process(self, payload):
            pass

    a = Agg({"type": "x", "category": "telemetry"}, nats_addr=None)
    assert (a.subscribe_topic, a.subscribe_queue, a.TYPE) == ("karez.telemetry.>", "telemetry", "aggregrator")
    assert Agg({"type": "x", "category": "t", "queue": "mine"}, nats_addr=None).subscribe_queue == "mine"


def test_batch_bodies_are_chunked_by_count_and_size():
    import orjson

    c = Converter({"type": "echo", "name": "b", "batch": True}, nats_addr=None)
    bodies = c.encode_outputs([("s", {"i": i}) for i in range(2500)])
    assert [n for _, _, n, _ in bodies] == [1000, 1000, 500]
    assert [x["i"] for _, body, _, _ in bodies for x in orjson.loads(body)] == list(range(2500))
    big = c.encode_outputs([("s", {"blob": "x" * 100_000}) for _ in range(20)])
    assert all(len(body) < 1_000_000 for _, body, _, _ in big) and sum(n for _, _, n, _ in big) == 20
    lines = c.encode_outputs([("t", {"_as_is": "a"}), ("t", {"_as_is": "b"})])
    assert lines == [("t", b"a\nb", 2, None)]

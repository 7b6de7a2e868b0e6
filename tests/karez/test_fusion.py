"""Fused chains on a real nats-server: converters of one process get items in memory, with the same results and the
same durable guarantees as one NATS hop per converter."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from test_karez_routing import Capture, capture

from karez.converter.base import ConverterBase
from karez.delivery import CORE
from karez.fusion import fused_outputs, plan_fusion, split_for_fusion
from karez.subjects import converter_subject


def uid() -> str:
    return uuid.uuid4().hex[:8]


def chain(s: str, **converter_keys: Any) -> dict[str, Any]:
    """numbers → [echo → line protocol, the aggregators]: the shape of the shipped chain (a fan-out and a `next`)."""
    return {
        "dispatchers": [
            {"type": "numbers", "name": f"d{s}", "connector": f"src{s}", "interval": 3600, "count": 3, "batch_size": 3}
        ],
        "connectors": [{"type": "numbers", "name": f"src{s}", "converter": [f"c{s}", None], "batch": True}],
        "converters": [
            {"type": "echo", "name": f"c{s}", "next": f"lp{s}", "batch": True, **converter_keys},
            {"type": "influx_line_protocol", "name": f"lp{s}", "measurement": "m", "batch": True},
        ],
    }


async def outputs_of(nc, start_runtime, tmp_path, config: dict[str, Any], expected: int, **runtime: Any) -> Capture:
    cap = await capture(nc, "karez.>")
    tmp_path.mkdir(exist_ok=True)
    await start_runtime(config, tmp_path, **runtime)
    await cap.wait(expected)
    await asyncio.sleep(0.3)  # nothing more is coming
    return cap


def lines(cap: Capture, subject: str) -> list[str]:
    return sorted(line for m in cap.on(subject) for line in m.data.decode().splitlines())


async def test_a_fused_chain_publishes_what_one_hop_per_converter_publishes_without_the_converter_hops(
    nc, start_runtime, tmp_path
):
    s, t = uid(), uid()
    fused = await outputs_of(nc, start_runtime, tmp_path / "f", chain(s), expected=3)
    hops = await outputs_of(nc, start_runtime, tmp_path / "h", chain(t), expected=5, fuse=False)
    assert lines(fused, f"karez.telemetry.lp{s}") == lines(hops, f"karez.telemetry.lp{t}")
    assert len(lines(fused, f"karez.telemetry.lp{s}")) == 3
    assert json.loads(fused.on(f"karez.telemetry.src{s}")[0].data) == json.loads(
        hops.on(f"karez.telemetry.src{t}")[0].data
    )
    assert fused.on(f"karez.converter.c{s}") == [] and fused.on(f"karez.converter.lp{s}") == []
    assert len(hops.on(f"karez.converter.c{t}")) == 1 and len(hops.on(f"karez.converter.lp{t}")) == 1


async def test_a_converter_with_fuse_false_gets_and_sends_its_items_over_nats(nc, start_runtime, tmp_path):
    s = uid()
    cap = await outputs_of(nc, start_runtime, tmp_path, chain(s, fuse=False), expected=5)
    assert len(cap.on(f"karez.converter.c{s}")) == 1
    assert len(cap.on(f"karez.converter.lp{s}")) == 1  # and what c outputs goes over NATS too
    assert len(lines(cap, f"karez.telemetry.lp{s}")) == 3


async def test_karez_deploy_prints_its_fused_links_and_no_fuse_sends_every_hop_over_nats(nc, deploy, tmp_path):
    s = uid()
    fused = await deploy(chain(s), tmp_path, name="fused.yaml")
    assert f"[KAREZ] Fused in memory (--no-fuse: over NATS): src{s} → c{s}; c{s} → lp{s}." in fused.lines
    t = uid()
    hops = await capture(nc, f"karez.converter.lp{t}")
    unfused = await deploy(chain(t), tmp_path, "--no-fuse", name="hops.yaml")
    assert not any("Fused" in line for line in unfused.lines)
    await hops.wait(1)  # the hop from c to lp went over NATS


async def test_fused_converters_count_what_they_receive_and_hand_on(nc, start_runtime, tmp_path):
    s = uid()
    cap = await capture(nc, f"karez.telemetry.lp{s}")
    runtime = await start_runtime(chain(s), tmp_path)
    assert runtime.fused_links() == [f"src{s} → c{s}", f"c{s} → lp{s}"]  # what karez deploy prints at start
    await cap.wait(1)
    stats = {role.name: role.stats for _, role in runtime.all_roles()}
    assert (stats[f"c{s}"].received, stats[f"c{s}"].published) == (3, 3)
    assert (stats[f"lp{s}"].received, stats[f"lp{s}"].published) == (3, 3)


class Stamp(ConverterBase):
    """Edits its input in place (as filter_and_update_meta does with the meta)."""

    def convert(self, payload: dict[str, Any]):
        payload["stamped"] = self.name
        self.update_meta(payload, category=self.name)
        yield payload


def stamp(name: str, **keys: Any) -> Stamp:
    return Stamp({"type": "stamp", "name": name, **keys}, nats_addr=None)


async def test_an_item_sent_to_two_fused_converters_and_an_aggregator_is_edited_only_in_each_converter_copy():
    head, a, b = stamp("head"), stamp("a"), stamp("b")
    plan_fusion([head], [a, b])
    item = {"n": 1, "_karez": {"category": "telemetry"}}
    outputs = [(converter_subject("a"), item), (converter_subject("b"), item), ("karez.telemetry.head", item)]
    published = await fused_outputs(head, outputs)
    by_subject = {subject: out for subject, out in published}
    assert by_subject["karez.telemetry.head"] == {"n": 1, "_karez": {"category": "telemetry"}}
    assert by_subject["karez.a.a"] == {"n": 1, "stamped": "a", "_karez": {"category": "a"}}
    assert by_subject["karez.b.b"] == {"n": 1, "stamped": "b", "_karez": {"category": "b"}}


def test_split_for_fusion_gives_the_original_to_one_target_at_most_and_copies_to_the_others():
    a, b, c = ({"n": i, "_karez": {"category": "t"}} for i in range(3))
    local = {"A": None, "B": None}
    # route's fan-out shape: every item to A then B, nothing published
    groups, remote = split_for_fusion(["A", "B"] * 3, [a, a, b, b, c, c], ["A", "B"], local)
    assert remote == [] and groups["A"] == groups["B"] == [a, b, c]
    assert all(x is y for x, y in zip(groups["A"], [a, b, c], strict=True))
    assert not any(x is y or x["_karez"] is y["_karez"] for x, y in zip(groups["B"], [a, b, c], strict=True))
    # also published (subject P): the published items stay the originals, both converters get copies
    groups, remote = split_for_fusion(["A", "P", "B"] * 2, [a, a, a, b, b, b], ["A", "P", "B"], local)
    assert [item for _, item in remote] == [a, b] and remote[0][1] is a
    assert not any(x is a or x is b for x in groups["A"] + groups["B"])
    # any other shape, item by item: a twice to A (over NATS it would be two messages), b to A and published
    groups, remote = split_for_fusion(["A", "A", "P", "A"], [a, a, b, b], ["A", "P"], local)
    assert groups["A"][0] is a and groups["A"][1] is not a and groups["A"][1] == a
    assert remote == [("P", b)] and groups["A"][2] is not b and groups["A"][2] == b
    # items that are not objects pass as they are
    groups, remote = split_for_fusion(["A", "B"], ["text", "text"], ["A", "B"], local)
    assert groups == {"A": ["text"], "B": ["text"]}


async def test_a_cycle_along_next_is_left_to_nats_after_one_pass():
    head, a = stamp("head"), stamp("a", next="a")
    plan_fusion([head, a], [a])
    published = await fused_outputs(head, [(converter_subject("a"), {"n": 1})])
    assert published == [(converter_subject("a"), {"n": 1, "stamped": "a", "_karez": {"category": "a"}})]


def test_a_durable_converter_is_fused_only_into_a_head_whose_input_is_redelivered():
    from karez.durable import DurableLink

    core_head, durable_head, durable_converter = stamp("h1"), stamp("h2"), stamp("c")
    durable_head.delivery = DurableLink()
    durable_converter.delivery = DurableLink()
    plan_fusion([core_head, durable_head], [durable_converter])
    assert core_head.fused == {}
    assert durable_head.fused == {converter_subject("c"): durable_converter}
    core_converter = stamp("k")
    assert core_converter.delivery is CORE
    plan_fusion([core_head], [core_converter])
    assert core_head.fused == {converter_subject("k"): core_converter}


async def test_a_durable_fused_chain_dead_letters_the_head_input_when_a_fused_converter_fails_on_it(
    nc, start_runtime, tmp_path
):
    s = uid()
    config = {
        "converters": [
            {"type": "echo", "name": f"h{s}", "next": f"p{s}", "durable": True, "max_deliver": 2},
            {"type": "poison", "name": f"p{s}", "durable": True},
        ]
    }
    await start_runtime(config, tmp_path)
    dlq = await capture(nc, f"karez.dlq.converter.h{s}")
    ok = await capture(nc, f"karez.telemetry.p{s}")
    js = nc.jetstream()
    await js.publish(f"karez.converter.h{s}", b'{"poison": true, "id": 1}')
    await js.publish(f"karez.converter.h{s}", b'{"id": 2}')
    letter = json.loads((await dlq.wait(1))[0].data)
    assert "ValueError: poisoned item" in letter["error"] and letter["deliveries"] == 2
    assert json.loads(letter["data"]) == {"poison": True, "id": 1}
    assert json.loads((await ok.wait(1))[0].data)["id"] == 2
    info = await js.stream_info(f"KAREZ_CONVERTER_p{s}")
    assert info.state.messages == 0  # p got its items in memory: nothing was published to its stream

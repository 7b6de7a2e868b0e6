"""Durable aggregators: two queue groups on one category each get every message exactly once."""

from __future__ import annotations

import asyncio
import json
import time
import uuid


async def test_two_durable_aggregators_on_one_category_each_get_a_copy(nc, start_runtime, tmp_path):
    s = uuid.uuid4().hex[:8]
    category = f"cat{s}"
    config = {
        "aggregators": [
            {"type": "collect", "name": f"a{s}", "category": category, "db_name": "x", "durable": True},
            {"type": "collect", "name": f"b{s}", "category": category, "db_name": "x", "durable": True,
             "queue": f"other{s}"},
        ]
    }  # fmt: skip
    runtime = await start_runtime(config, tmp_path)
    js = nc.jetstream()
    n = 50
    for i in range(n):
        await js.publish(f"karez.{category}.producer", json.dumps({"i": i}).encode())
    first, second = (role for _, role in runtime.all_roles())
    for _ in range(200):
        if len(first.__dict__.get("items", [])) >= n and len(second.__dict__.get("items", [])) >= n:
            break
        await asyncio.sleep(0.05)
    assert sorted(item["i"] for item in first.items) == list(range(n))
    assert sorted(item["i"] for item in second.items) == list(range(n))
    # once both consumers acked, interest retention removes the messages
    info = await js.stream_info(f"KAREZ_CATEGORY_{category}")
    for _ in range(100):
        if info.state.messages == 0:
            break
        await asyncio.sleep(0.05)
        info = await js.stream_info(f"KAREZ_CATEGORY_{category}")
    assert info.state.messages == 0


async def test_a_fetched_batch_slower_than_ack_wait_is_not_redelivered_while_it_is_worked_on(
    nc, start_runtime, tmp_path
):
    s = uuid.uuid4().hex[:8]
    category = f"slow{s}"
    config = {
        "aggregators": [
            {"type": "slow_collect", "name": f"a{s}", "category": category, "delay": 0.25, "durable": True,
             "ack_wait": 1},
        ]
    }  # fmt: skip
    js = nc.jetstream()
    first = await start_runtime(config, tmp_path)
    n = 12  # fetched together after the first one: about 3 s of work, three times ack_wait
    for i in range(n):
        await js.publish(f"karez.{category}.producer", json.dumps({"i": i}).encode())
    await asyncio.sleep(0.6)  # the first runtime has fetched its batch
    second = await start_runtime(config, tmp_path)  # a second process on the same durable consumer keeps pulling
    roles = [role for runtime in (first, second) for _, role in runtime.all_roles()]

    def received() -> list[int]:
        return sorted(item["i"] for role in roles for item in role.__dict__.get("items", []))

    for _ in range(400):
        if len(received()) >= n:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.5)  # a redelivery would come within ack_wait after the batch
    assert received() == list(range(n))


async def test_a_fetched_batch_lets_the_other_work_of_the_process_run_between_its_messages(
    nc, start_runtime, tmp_path, loop_ticks
):
    s = uuid.uuid4().hex[:8]
    category = f"fair{s}"
    config = {
        "aggregators": [{"type": "collect", "name": f"a{s}", "category": category, "db_name": "x", "durable": True}]
    }
    runtime = await start_runtime(config, tmp_path)
    ((_, role),) = runtime.all_roles()
    seen: list[int] = []

    def busy_process(payload):
        seen.append(loop_ticks.count)
        time.sleep(0.02)  # blocking work, as a store write or a big conversion is

    role.process = busy_process
    js = nc.jetstream()
    for i in range(8):  # one fetched on its own, then the others in one batch
        await js.publish(f"karez.{category}.producer", json.dumps({"i": i}).encode())
    for _ in range(200):
        if len(seen) >= 8:
            break
        await asyncio.sleep(0.05)
    assert len(seen) == 8 and seen == sorted(set(seen))  # the ticker ran between every two messages

"""Durable aggregators: two queue groups on one category each get every message exactly once."""

from __future__ import annotations

import asyncio
import json
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

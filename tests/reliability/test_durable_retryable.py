"""Durable mode: an error marked retryable (destination down) is retried past max_deliver, never dead-lettered."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import nats
from nats.js.errors import NotFoundError

PLUGINS = Path(__file__).parent / "plugins"


async def test_retryable_error_waits_instead_of_dead_lettering(nats_server, tmp_path):
    config = {"converters": [{"type": "flaky", "durable": True, "max_deliver": 2}]}
    (tmp_path / "karez.yaml").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "karez.cli", "deploy", "-c", "karez.yaml", "-p", str(PLUGINS), "-a", nats_server.url],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    nc = await nats.connect(nats_server.url)
    try:
        out, dead = asyncio.Queue(), asyncio.Queue()
        await nc.subscribe("karez.telemetry.flaky", cb=out.put)
        await nc.subscribe("karez.dlq.>", cb=dead.put)
        js = nc.jetstream()
        for _ in range(600):  # the role process creates its stream when it starts
            try:
                await js.stream_info("KAREZ_CONVERTER_flaky")
                break
            except NotFoundError:
                await asyncio.sleep(0.05)
        await js.publish("karez.converter.flaky", json.dumps({"id": 1, "fail_times": 3}).encode())
        await js.publish("karez.converter.flaky", json.dumps({"id": 2, "fail_times": 0}).encode())
        got = [json.loads((await asyncio.wait_for(out.get(), 60)).data) for _ in range(2)]
        assert sorted(item["id"] for item in got) == [1, 2]  # id 1 came through on its 4th delivery
        assert dead.empty()
    finally:
        await nc.close()
        proc.terminate()
        proc.wait(60)

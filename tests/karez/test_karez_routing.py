"""Wire behaviour on a real nats-server: subjects, fan-out, meta merge, `_as_is`, batch mode, bad input, metrics."""

from __future__ import annotations

import asyncio
import json
import uuid

import orjson


def uid() -> str:
    return uuid.uuid4().hex[:8]


class Capture:
    """Collects messages on a subject pattern; `wait(n)` returns once n arrived."""

    def __init__(self) -> None:
        self.msgs: list = []
        self._cond = asyncio.Condition()

    async def cb(self, msg) -> None:
        async with self._cond:
            self.msgs.append(msg)
            self._cond.notify_all()

    async def wait(self, n: int, timeout: float = 20) -> list:
        async def enough():
            async with self._cond:
                await self._cond.wait_for(lambda: len(self.msgs) >= n)

        await asyncio.wait_for(enough(), timeout)
        return self.msgs

    def on(self, subject: str) -> list:
        return [m for m in self.msgs if m.subject == subject]


async def capture(nc, subject: str) -> Capture:
    cap = Capture()
    await nc.subscribe(subject, cb=cap.cb)
    await nc.flush()
    return cap


def chain(s: str, **over) -> dict:
    config = {
        "dispatchers": [
            {"type": "numbers", "name": f"d{s}", "connector": f"src{s}", "interval": 3600, "count": 3, "batch_size": 3}
        ],
        "connectors": [{"type": "numbers", "name": f"src{s}", "converter": [f"c{s}", None]}],
        "converters": [
            {"type": "echo", "name": f"c{s}", "next": f"lp{s}"},
            {"type": "influx_line_protocol", "name": f"lp{s}", "measurement": "m"},
        ],
    }
    for key, value in over.items():
        config[key] = value
    return config


async def test_every_hop_uses_upstream_subjects_and_bodies(nc, start_runtime, tmp_path):
    s = uid()
    cap = await capture(nc, "karez.>")
    await start_runtime(chain(s), tmp_path, fuse=False)  # the wire between converters (karez deploy --no-fuse)
    # 1 task message, 3 items to converter + 3 to aggregator subject, 3 to lp, 3 raw lines
    await cap.wait(13)
    tasks = cap.on(f"karez.connector.src{s}")
    assert [json.loads(m.data) for m in tasks] == [{"tasks": [0, 1, 2]}]
    to_conv = [json.loads(m.data) for m in cap.on(f"karez.converter.c{s}")]
    assert to_conv[0] == {"n": 0, "value": 0.0, "timestamp": 1700000000, "_karez": {"category": "telemetry"}}
    assert len(cap.on(f"karez.telemetry.src{s}")) == 3  # the null entry of `converter` goes to aggregators
    lines = sorted(m.data.decode() for m in cap.on(f"karez.telemetry.lp{s}"))
    assert lines == ["m,n=0 value=0 1700000000000000000", "m,n=1 value=1.5 1700000001000000000",
                     "m,n=2 value=3 1700000002000000000"]  # fmt: skip


async def test_meta_merge_rename_and_aggregator_delivery(nc, start_runtime, tmp_path):
    s = uid()
    config = chain(s)
    config["converters"] = [
        {"type": "filter_and_update_meta", "name": f"c{s}", "key": "category", "rename": {"telemetry": f"g{s}"},
         "next": f"e{s}"},
        {"type": "echo", "name": f"e{s}"},
    ]  # fmt: skip
    config["connectors"][0]["converter"] = f"c{s}"  # a string is one converter name
    config["aggregators"] = [{"type": "collect", "name": f"a{s}", "category": f"g{s}", "db_name": "x"}]
    cap = await capture(nc, f"karez.g{s}.>")
    runtime = await start_runtime(config, tmp_path)
    msgs = await cap.wait(3)
    assert {m.subject for m in msgs} == {f"karez.g{s}.e{s}"}
    aggregator = runtime.roles["aggregator"][0]
    await runtime.shutdown()
    assert sorted(i["n"] for i in aggregator.items) == [0, 1, 2]
    assert all(i["_karez"] == {"category": f"g{s}"} for i in aggregator.items)


async def test_batch_mode_publishes_arrays_and_joined_lines(nc, start_runtime, tmp_path):
    s = uid()
    config = chain(s)
    config["connectors"][0].update(batch=True, converter=f"c{s}")
    config["converters"][0]["batch"] = True
    config["converters"][1]["batch"] = True
    cap = await capture(nc, "karez.>")
    await start_runtime(config, tmp_path, fuse=False)
    await cap.wait(4)  # tasks, one array to c, then (per received item) to lp and line batches
    arrays = [orjson.loads(m.data) for m in cap.on(f"karez.converter.c{s}")]
    assert len(arrays) == 1 and [i["n"] for i in arrays[0]] == [0, 1, 2]
    lines_cap = await capture(nc, f"karez.telemetry.lp{s}")
    assert lines_cap is not None
    await cap.wait(4)
    raw = b"\n".join(m.data for m in cap.on(f"karez.telemetry.lp{s}")).decode().split("\n")
    assert sorted(raw) == ["m,n=0 value=0 1700000000000000000", "m,n=1 value=1.5 1700000001000000000",
                           "m,n=2 value=3 1700000002000000000"]  # fmt: skip


async def test_bad_input_is_dropped_and_the_role_keeps_working_nan_in_null_out(nc, start_runtime, tmp_path, caplog):
    s = uid()
    config = {"converters": [{"type": "echo", "name": f"c{s}"}]}
    runtime = await start_runtime(config, tmp_path, metrics_interval=0.2)
    cap = await capture(nc, f"karez.telemetry.c{s}")
    metrics = await capture(nc, f"karez.metrics.converter.c{s}")
    await nc.publish(f"karez.converter.c{s}", b"not json{")
    await nc.publish(f"karez.converter.c{s}", b"[1, 2]")  # wrong shape: items must be objects
    await nc.publish(f"karez.converter.c{s}", json.dumps({"v": float("nan")}).encode())
    msgs = await cap.wait(1)
    assert json.loads(msgs[0].data) == {"v": None, "_karez": {}}
    role = runtime.roles["converter"][0]
    assert (role.stats.dropped, role.stats.received) == (3, 3)
    assert f"karez.converter.c{s}" in caplog.text
    body = json.loads((await metrics.wait(1))[0].data)
    assert body["name"] == f"c{s}" and "published" in body


async def test_connection_per_role_works_too(nc, start_runtime, tmp_path):
    s = uid()
    cap = await capture(nc, f"karez.telemetry.lp{s}")
    await start_runtime(chain(s), tmp_path, shared_connection=False)
    assert len(await cap.wait(3)) == 3

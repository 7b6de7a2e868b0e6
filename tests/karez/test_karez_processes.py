"""Multi-process behaviour: queue groups, drain on SIGTERM, durable exactly-once across SIGKILL, DLQ, reconnect."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats
import orjson
from nats.js.api import StreamConfig
from test_karez_routing import Capture, capture


def uid() -> str:
    return uuid.uuid4().hex[:8]


async def test_two_processes_share_a_queue_group_and_drain_on_sigterm(nc, deploy, tmp_path):
    s = uid()
    config = {"converters": [{"type": "slow", "name": f"q{s}", "delay": 0.001}]}
    a = await deploy(config, tmp_path, "-v", name="a.yaml")
    b = await deploy(config, tmp_path, "-v", name="b.yaml")
    out = await capture(nc, f"karez.telemetry.q{s}")
    n = 300
    for i in range(n):
        await nc.publish(f"karez.converter.q{s}", orjson.dumps({"i": i}))
    await nc.flush()
    # SIGTERM right away: whatever each process received must still be converted and published
    await asyncio.gather(a.terminate(), b.terminate())
    await nc.flush()
    msgs = await out.wait(n)
    assert sorted(json.loads(m.data)["i"] for m in msgs) == list(range(n))  # each exactly once
    ra, rb = a.stats_of("converter", f"q{s}")["received"], b.stats_of("converter", f"q{s}")["received"]
    assert ra + rb == n and ra > 0 and rb > 0


async def test_validation_errors_stop_deploy_with_all_messages(deploy, tmp_path):
    import pytest

    config = {"converters": [{"type": "echo", "name": "a.b", "next": "ghost"}, {"type": "nope"}]}
    with pytest.raises(RuntimeError) as err:
        await deploy(config, tmp_path)
    text = str(err.value)
    assert "name 'a.b' is not a valid NATS subject token" in text
    assert "next converter 'ghost' is not defined" in text
    assert "unknown converter type 'nope'" in text


async def test_durable_exactly_once_across_sigkill(nc, nats_server, deploy, tmp_path):
    s = uid()
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=f"OUT_{s}", subjects=[f"karez.out{s}.>"]))
    config = {
        "converters": [
            {"type": "slow", "name": f"d{s}", "delay": 0.003, "durable": True, "ack_wait": 1.5},
            {"type": "filter_and_update_meta", "name": f"r{s}", "key": "category",
             "rename": {"telemetry": f"out{s}"}},
        ]
    }  # fmt: skip
    config["converters"][0]["next"] = f"r{s}"
    config["converters"][1].update(durable=True, ack_wait=1.5)
    out = await capture(nc, f"karez.out{s}.>")
    first = await deploy(config, tmp_path, "-v")
    n = 400
    for i in range(n):
        await js.publish_async(
            f"karez.converter.d{s}",
            orjson.dumps({"i": i, "_karez": {"category": "telemetry"}}),
            headers={"Nats-Msg-Id": f"in{i}"},
        )
    await js.publish_async_completed()
    await out.wait(40)
    await first.kill()
    seen_before_kill = len(out.msgs)
    assert seen_before_kill < n  # the kill really happened mid-stream
    await deploy(config, tmp_path, "-v")
    await out.wait(n)
    # wait until both durable consumers have nothing pending or unacked
    for stream, consumer in (
        (f"KAREZ_CONVERTER_d{s}", f"converter_d{s}"),
        (f"KAREZ_CONVERTER_r{s}", f"converter_r{s}"),
    ):
        for _ in range(400):
            info = await js.consumer_info(stream, consumer)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.05)  # polling another process' progress
    stored = await js.stream_info(f"OUT_{s}")
    assert stored.state.messages == n  # redelivered inputs were deduplicated downstream
    psub = await js.pull_subscribe(f"karez.out{s}.>", stream=f"OUT_{s}")
    got = []
    while len(got) < n:
        got += [json.loads(m.data)["i"] for m in await psub.fetch(n - len(got), timeout=5)]
    assert sorted(got) == list(range(n))


async def test_poison_message_goes_to_dead_letter_subject(nc, start_runtime, tmp_path):
    s = uid()
    config = {"converters": [{"type": "poison", "name": f"p{s}", "durable": True, "max_deliver": 2}]}
    await start_runtime(config, tmp_path)
    dlq = await capture(nc, f"karez.dlq.converter.p{s}")
    ok = await capture(nc, f"karez.telemetry.p{s}")
    js = nc.jetstream()
    await js.publish(f"karez.converter.p{s}", b'{"poison": true, "id": 1}')
    await js.publish(f"karez.converter.p{s}", b'{"id": 2}')
    await js.publish(f"karez.converter.p{s}", b"garbage")
    letters = await dlq.wait(2)
    bodies = sorted((json.loads(m.data) for m in letters), key=lambda b: b["stream_sequence"])
    assert "ValueError: poisoned item" in bodies[0]["error"] and bodies[0]["deliveries"] == 2
    assert json.loads(bodies[0]["data"]) == {"poison": True, "id": 1}
    assert bodies[1]["error"].startswith("message is not JSON (") and bodies[1]["data"] == "garbage"
    assert json.loads((await ok.wait(1))[0].data)["id"] == 2


async def test_roles_recover_after_nats_server_restart(private_nats, start_runtime, tmp_path):
    s = uid()
    runtime = await start_runtime({"converters": [{"type": "echo", "name": f"r{s}"}]}, tmp_path, private_nats.url)
    client = await nats.connect(private_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        out = Capture()
        await client.subscribe(f"karez.telemetry.r{s}", cb=out.cb)
        await client.publish(f"karez.converter.r{s}", b'{"k": 1}')
        await out.wait(1)
        await asyncio.to_thread(private_nats.restart)
        await asyncio.wait_for(runtime.reconnected.wait(), 30)
        await client.flush(timeout=30)  # our own client reconnected and re-subscribed
        await client.publish(f"karez.converter.r{s}", b'{"k": 2}')
        msgs = await out.wait(2)
        assert [json.loads(m.data)["k"] for m in msgs] == [1, 2]
        assert len(runtime.nc._subs) == 1  # no subscription leak on reconnect
    finally:
        await client.close()


async def test_dead_letters_are_kept_in_a_stream_when_nobody_listens(nc, start_runtime, tmp_path):
    s = uid()
    config = {"converters": [{"type": "poison", "name": f"k{s}", "durable": True, "max_deliver": 1}]}
    await start_runtime(config, tmp_path)
    ok = await capture(nc, f"karez.telemetry.k{s}")
    js = nc.jetstream()
    await js.publish(f"karez.converter.k{s}", b'{"poison": true, "id": 7}')
    await js.publish(f"karez.converter.k{s}", b'{"id": 8}')
    assert json.loads((await ok.wait(1))[0].data)["id"] == 8
    info = await js.stream_info("KAREZ_DLQ")
    assert info.config.max_age and info.config.max_age > 0
    stored = await js.get_last_msg("KAREZ_DLQ", f"karez.dlq.converter.k{s}")
    letter = json.loads(stored.data)
    assert letter["role"] == f"k{s}" and "ValueError: poisoned item" in letter["error"]
    assert json.loads(letter["data"]) == {"poison": True, "id": 7}


async def test_a_data_error_is_dead_lettered_at_its_first_delivery(nc, start_runtime, tmp_path):
    s = uid()
    config = {"converters": [{"type": "poison", "name": f"d{s}", "durable": True, "max_deliver": 5}]}
    await start_runtime(config, tmp_path)
    dlq = await capture(nc, f"karez.dlq.converter.d{s}")
    await nc.jetstream().publish(f"karez.converter.d{s}", b'{"poison": "data"}')
    letter = json.loads((await dlq.wait(1))[0].data)
    assert letter["deliveries"] == 1 and "BadItem: item is bad data" in letter["error"]


async def test_a_durable_dispatcher_retries_a_task_publish_across_a_nats_restart(private_nats, start_runtime, tmp_path):
    s = uid()
    config = {
        "dispatchers": [
            {"type": "numbers", "name": f"t{s}", "connector": f"c{s}", "interval": 3600, "count": 1, "durable": True}
        ],
        "connectors": [{"type": "numbers", "name": f"c{s}", "durable": True}],
    }
    client = await nats.connect(private_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    out = Capture()
    await client.subscribe(f"karez.telemetry.c{s}", cb=out.cb)  # before the start: it dispatches at once
    await client.flush()
    try:
        runtime = await start_runtime(config, tmp_path, private_nats.url)
        await out.wait(1)  # the start-up round went through
        dispatcher = runtime.roles["dispatcher"][0]
        await asyncio.to_thread(private_nats.stop)
        publish = asyncio.create_task(dispatcher.wait_and_publish(f"karez.connector.c{s}", {"tasks": [41]}, 0))
        done, _ = await asyncio.wait({publish}, timeout=1)
        assert not done, "the publish returned without a PubAck while the server was down"
        await asyncio.to_thread(private_nats.start)
        await asyncio.wait_for(publish, 60)  # returns only once JetStream stored the task
        await client.flush(timeout=30)
        info = await client.jetstream().stream_info(f"KAREZ_CONNECTOR_c{s}")
        assert info.state.last_seq == 2  # the start-up round's task and ours, each stored once
    finally:
        await client.close()

"""The influx_writer aggregator: NATS in, VictoriaMetrics out, its own queue group, back-pressure, durable errors,
and the seed pipeline run by `karez deploy` with influx_writer in Telegraf's place."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from karez.delivery import delivery_for
from karez.frames import COMPACT, ENCODING_HEADER, frame_body, make_frame

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stores"))

from http_double import influx_double
from victoria import VictoriaMetrics, skip_without_victoria

from tiro.examples import example_dir
from tiro.frames import RECORDS
from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.mock.service import example_service
from tiro.plugins.karez import InfluxWriterAggregator
from tiro.stores.influx_errors import InfluxError
from tiro_models.paths import split_dp_path, type_path_of

TOKEN = "writer-secret-token"
T0 = 1_700_000_000_000_000_000


async def _until(condition, limit: float = 60.0) -> None:
    """Wait for a condition; the limit only turns a hang into a failure, it is not what the test measures."""

    async def poll():
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), limit)


def _writer(url: str, nats_url: str = "nats://127.0.0.1:1", **config) -> InfluxWriterAggregator:
    base = {"type": "influx_writer", "url": url, "token": TOKEN, "flush_interval": 0.2}
    return InfluxWriterAggregator({**base, **config}, nats_addr=nats_url)


def _lines(n: int, field: str, start: int = 0) -> list[str]:
    return [
        f"tiro_telemetry,DataHall=dh\\ 0,asset_path=DataHall.dh\\ 0.Rack.r{i % 7},path=DataHall.Rack.{field},"
        f"type=Telemetry,unit=W {field}={i}.25 {T0 + i * 1_000_000}"
        for i in range(start, start + n)
    ]


def test_defaults_are_telegrafs_raw_text_on_telemetry_in_its_own_queue_group():
    role = _writer("http://127.0.0.1:9")
    assert role.config.category == "telemetry" and role.config.json is False
    assert role.subscribe_topic == "karez.telemetry.>"
    assert role.subscribe_queue == "influx_writer_influx_writer"  # no dots: also a JetStream consumer name
    assert _writer("http://127.0.0.1:9", queue="q").subscribe_queue == "q"
    assert TOKEN not in repr(role) and TOKEN not in repr(role.store)


async def test_lines_from_nats_are_in_victoria_metrics_point_by_point_and_other_aggregators_keep_theirs(
    nats_server,
):
    skip_without_victoria()
    lines = _lines(3000, "FromNats")
    with VictoriaMetrics() as vm:
        role = _writer(vm.url, nats_server.url, batch_size=500)
        task = asyncio.create_task(role.run())
        client = await nats.connect(nats_server.url)
        other: list[bytes] = []
        # An aggregator of the same category (queue group "telemetry") must still see every message.

        async def keep(msg):
            other.append(msg.data)

        await client.subscribe("karez.telemetry.>", queue="telemetry", cb=keep)
        try:
            await _until(lambda: role.sub is not None)
            await role.flush()  # the subscription has reached the server: core NATS drops what comes before
            messages = [lines[i] for i in range(100)] + ["\n".join(lines[i : i + 50]) for i in range(100, 3000, 50)]
            for body in messages:
                await client.publish("karez.telemetry.influx_line_protocol", body.encode())
            await client.flush()
            await _until(lambda: role.stats.received >= len(messages))
            await role.drain()
            assert role.lines_written == 3000 and role.lines_failed == 0
            assert len(other) == len(messages)
            points = await asyncio.to_thread(vm.wait_for_points, "tiro_telemetry_FromNats", 3000)
        finally:
            task.cancel()
            await role.close()
            await client.close()
    expected = {}
    for i in range(3000):
        labels = {
            "DataHall": "dh 0",
            "asset_path": f"DataHall.dh 0.Rack.r{i % 7}",
            "path": "DataHall.Rack.FromNats",
            "type": "Telemetry",
            "unit": "W",
        }
        expected[(frozenset(labels.items()), (T0 + i * 1_000_000) // 1_000_000)] = i + 0.25
    assert points == expected


async def test_records_frames_from_nats_are_in_victoria_metrics_row_by_row(nats_server):
    """`frames: true`: tiro.records frames (the compact wire form, named by its header) written as their lines."""
    skip_without_victoria()
    n = 1200
    paths = [f"DataHall.dh_0.Rack.r{i % 7}.Telemetry.FromFrames{i % 3}" for i in range(n)]
    stamps = [T0 / 1e9 + i * 0.001 for i in range(n)]
    columns = {"path": paths, "value": [i + 0.25 for i in range(n)], "timestamp": stamps, "unit": ["W"] * n}
    batch = [make_frame(RECORDS.name, {k: v[s : s + 400] for k, v in columns.items()}) for s in range(0, n, 400)]
    with VictoriaMetrics() as vm:
        role = _writer(vm.url, nats_server.url, category="store_data", frames=True, batch_size=500)
        task = asyncio.create_task(role.run())
        client = await nats.connect(nats_server.url)
        try:
            await _until(lambda: role.sub is not None)
            await role.flush()  # the subscription has reached the server: core NATS drops what comes before
            for frame in batch:
                body, encoding = frame_body([frame], COMPACT)
                await client.publish("karez.store_data.pre", body, headers={ENCODING_HEADER: encoding})
            await client.flush()
            await _until(lambda: role.stats.received >= n)
            await role.drain()
            assert role.lines_written == n and role.lines_failed == 0 and role.stats.dropped == 0
            found = {}
            for k in range(3):
                found.update(await asyncio.to_thread(vm.wait_for_points, f"tiro_telemetry_FromFrames{k}", n // 3))
        finally:
            task.cancel()
            await role.close()
            await client.close()
    expected = {}
    for i, path in enumerate(paths):
        labels = {"DataHall": "dh_0", "Rack": f"r{i % 7}", "asset_path": path.rsplit(".", 2)[0],
                  "path": type_path_of(path), "type": "Telemetry", "unit": "W"}  # fmt: skip
        expected[(frozenset(labels.items()), int(stamps[i] * 1e9) // 1_000_000)] = i + 0.25  # VictoriaMetrics keeps ms
    assert found == expected


async def test_a_stalled_server_blocks_process_once_max_pending_batches_wait():
    with influx_double() as influx:
        influx.gate = gate = __import__("threading").Event()
        role = _writer(influx.url, batch_size=2, max_pending=1)
        await role.start_writer()
        lines = _lines(6, "Stall")
        await role.process("\n".join(lines[0:2]))  # handed to the writer, whose request now hangs
        await asyncio.to_thread(influx.arrived.wait, 10)
        await role.process("\n".join(lines[2:4]))  # fills the one pending slot
        third = asyncio.create_task(role.process("\n".join(lines[4:6])))
        for _ in range(50):
            await asyncio.sleep(0)
        assert not third.done() and role._queue.full()  # back-pressure: the caller waits, memory does not grow
        gate.set()
        await third
        await role.flush_writes()
        assert role.lines_written == 6
        bodies = [r["body"].decode() for r in influx.calls("POST", "/api/v2/write")]
        assert bodies == ["\n".join(lines[i : i + 2]) for i in (0, 2, 4)]
        await role.close()


async def test_core_mode_drops_a_rejected_batch_logs_it_and_goes_on():
    with influx_double() as influx:
        influx.script("POST", "/api/v2/write", (400, {"code": "invalid", "message": "bad line"}), (204, None))
        role = _writer(influx.url, batch_size=1)
        await role.start_writer()
        await role.process("bad line")
        await role.process(_lines(1, "Ok")[0])
        await role.flush_writes()
        assert (role.lines_failed, role.lines_written, role.stats.errors) == (1, 1, 1)
        await role.close()


async def test_core_mode_keeps_lines_the_server_cannot_take_yet_and_writes_them_when_it_can():
    with influx_double() as influx:
        busy = {"code": "unavailable", "message": "busy"}
        influx.script("POST", "/api/v2/write", (503, busy), (503, busy), (204, None))
        role = _writer(influx.url, batch_size=3, max_retries=0)
        await role.start_writer()
        body = "\n".join(_lines(3, "Kept"))
        await role.process(body)
        await role.flush_writes()  # waits through the writer's retries
        assert (role.lines_written, role.lines_failed, role.stats.dropped) == (3, 0, 0)
        assert [r["body"].decode() for r in influx.calls("POST", "/api/v2/write")] == [body] * 3
        await role.close()


async def test_durable_mode_writes_before_returning_and_raises_without_the_token():
    with influx_double() as influx:
        role = _writer(influx.url, batch_size=1000, max_retries=1)
        role.delivery = delivery_for(listens=True, durable=True)  # not started: the ack waits for process()
        body = "\n".join(_lines(3, "Durable"))
        await role.consume(body, "karez.telemetry.x")
        assert [r["body"].decode() for r in influx.calls("POST", "/api/v2/write")] == [body]
        influx.script("POST", "/api/v2/write", (503, {"code": "unavailable", "message": f"token {TOKEN}"}))
        with pytest.raises(InfluxError) as info:
            await role.consume(body, "karez.telemetry.x")
        assert "after 2 attempts" in str(info.value) and TOKEN not in str(info.value)
        await role.close()


async def test_durable_consumer_redelivers_until_the_write_succeeds_then_acks(nats_server):
    from karez.durable import DurableLink

    with influx_double() as influx:
        busy = {"code": "unavailable", "message": "busy"}
        influx.script("POST", "/api/v2/write", (503, busy), (503, busy), (204, None))
        role = _writer(influx.url, nats_server.url, max_retries=0)
        role.delivery = DurableLink(fetch_batch=8)
        await role.start()
        client = await nats.connect(nats_server.url)
        js = client.jetstream()
        body = "\n".join(_lines(4, "Redelivered"))
        try:
            await js.publish("karez.telemetry.influx_line_protocol", body.encode())
            await _until(lambda: role.lines_written == 4)

            async def acked() -> None:  # a work-queue stream drops a message once it is acked
                while (await js.stream_info("KAREZ_CATEGORY_telemetry")).state.messages:
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(acked(), 30)
        finally:
            await role.drain()
            await role.close()
            await client.close()
        writes = [r["body"].decode() for r in influx.calls("POST", "/api/v2/write")]
        assert writes == [body] * 3  # two failed deliveries (not acked), then the one that was written
        assert role.lines_failed == 0


PIPELINE_TAIL = """\
converters:
  - type: tiro_preprocess
    tz_infos:
      SGT: Asia/Singapore
    next:
      - influx_line_protocol
  - type: influx_line_protocol
    measurement: tiro_telemetry
    field_name: field
    field_value: value
    batch: true

aggregators:
  - type: influx_writer
    url: {vm_url}
    flush_interval: 0.2
"""


def test_seed_pipeline_writes_every_telemetry_point_the_mock_serves_to_victoria_metrics(
    tmp_path, nats_server, mock_collector_yaml
):
    """karez deploy: mock → tiro_preprocess → influx_line_protocol → influx_writer → VictoriaMetrics (as Telegraf)."""
    skip_without_victoria()
    rounds = 2
    service = example_service(seed=21)
    telemetry = [p for p in service.listed if ".Telemetry." in p]
    assert len(telemetry) > 10
    with VictoriaMetrics() as vm, BackgroundServer(create_asgi(service)) as mock:
        shutil.copytree(example_dir("datahall") / "karez", tmp_path / "karez")
        (tmp_path / "karez" / "aggregator" / "influx_writer.py").write_text(
            "from tiro.plugins.karez import InfluxWriterAggregator as Aggregator\n"
        )
        (tmp_path / "karez.yaml").write_text(
            mock_collector_yaml(mock.url, ["tiro_preprocess"]) + PIPELINE_TAIL.format(vm_url=vm.url)
        )
        karez = str(Path(sys.executable).with_name("karez"))
        proc = subprocess.Popen(
            [karez, "deploy", "-c", "karez.yaml", "-p", "karez/", "-a", nats_server.url],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "TIRO_INFLUX_TOKEN": TOKEN},
        )
        series: dict[tuple[str, str], list[float]] = {}
        deadline = time.monotonic() + 60  # only stops a hung pipeline; the loop ends when the data is there
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                series = {
                    (s["metric"]["asset_path"], s["metric"]["__name__"]): s["values"]
                    for s in vm.export('{__name__=~"tiro_telemetry_.*"}')
                }
                if len(series) >= len(telemetry) and all(len(v) >= rounds for v in series.values()):
                    break
                time.sleep(0.2)  # polling a separate process's output
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=60)
        labels = {
            s["metric"]["asset_path"] + "." + s["metric"]["__name__"]: s["metric"]
            for s in vm.export('{__name__=~"tiro_telemetry_.*"}')
        }
    assert proc.returncode == 0, output
    assert TOKEN not in output
    expected = set()
    for path in telemetry:
        asset_path, category, name = split_dp_path(path)
        key = (asset_path, f"tiro_telemetry_{name}")
        expected.add(key)
        assert len(series.get(key, ())) >= rounds, f"{path} not written {rounds} times\n{output[-2000:]}"
        spec = service.points[path].definition
        low = spec.ge if spec.ge is not None else float("-inf")
        high = spec.le if spec.le is not None else float("inf")
        assert all(low <= v <= high for v in series[key]), (path, series[key])
        metric = labels[f"{asset_path}.tiro_telemetry_{name}"]
        assert metric["path"] == type_path_of(path) and metric["type"] == category
        assert metric.get("unit") == spec.unit
    assert set(series) == expected  # attributes are not written (nobody subscribes to their category), as upstream

"""`karez deploy --workers N`: the processes split the queue groups, one dispatches, SIGTERM drains all."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import orjson
from test_karez_routing import capture

from karez.workers import worker_kinds


def test_only_the_first_worker_runs_dispatchers():
    kinds = ("dispatcher", "connector", "converter", "aggregator")
    assert worker_kinds(kinds, 0) == kinds
    assert worker_kinds(kinds, 1) == ("connector", "converter", "aggregator")


async def test_two_workers_split_the_work_and_dispatch_once(nc, deploy, tmp_path):
    s = uuid.uuid4().hex[:8]
    config = {
        "dispatchers": [
            {"type": "numbers", "name": f"d{s}", "connector": f"n{s}", "interval": 3600, "count": 40, "batch_size": 4}
        ],
        "connectors": [{"type": "numbers", "name": f"n{s}"}],
        "converters": [{"type": "slow", "name": f"q{s}", "delay": 0.001}],
    }
    dispatched = await capture(nc, f"karez.telemetry.n{s}")
    converted = await capture(nc, f"karez.telemetry.q{s}")
    proc = await deploy(config, tmp_path, "--workers", "2")
    await proc._read_until("[KAREZ] Running.")  # the second process is subscribed too
    n = 300
    for i in range(n):
        await nc.publish(f"karez.converter.q{s}", orjson.dumps({"i": i}))
    await nc.flush()
    await converted.wait(n)
    items = await dispatched.wait(40)
    output = await proc.terminate()  # SIGTERM to the first process only: it passes the signal on
    assert proc.proc.returncode == 0, output
    assert sorted(json.loads(m.data)["n"] for m in items) == list(range(40))  # one dispatcher, not two
    assert sorted(json.loads(m.data)["i"] for m in converted.msgs) == list(range(n))
    prefix = f"[KAREZ] converter q{s}: "
    finals = [line for line in proc.lines if line.startswith(prefix)][-2:]  # each process prints its counters last
    received = [int(line.split("received=")[1].split()[0]) for line in finals]
    assert sum(received) == n and min(received) > 0, output


async def test_a_one_worker_aggregator_runs_in_the_first_process_only(nc, deploy, tmp_path):
    s = uuid.uuid4().hex[:8]
    log = tmp_path / "items.log"
    config = {"aggregators": [{"type": "one_worker_log", "name": f"v{s}", "category": f"w{s}", "log": str(log)}]}
    proc = await deploy(config, tmp_path, "--workers", "2")
    await proc._read_until("[KAREZ] Running.")
    n = 200
    for i in range(n):
        await nc.publish(f"karez.w{s}.producer", orjson.dumps({"i": i}))
    await nc.flush()
    for _ in range(200):
        if log.exists() and len(log.read_text().split()) >= n:
            break
        await asyncio.sleep(0.05)
    output = await proc.terminate()
    assert proc.proc.returncode == 0, output
    assert log.read_text().split() == [str(proc.proc.pid)] * n  # every item, all in the first process
    assert sum("Launched 1 Aggregators." in line for line in proc.lines) == 1, output  # the other worker has none


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent's reaping is pending


async def test_workers_stop_when_the_first_process_is_killed(nc, deploy, tmp_path):
    s = uuid.uuid4().hex[:8]
    proc = await deploy({"converters": [{"type": "echo", "name": f"k{s}"}]}, tmp_path, "--workers", "2")
    await proc._read_until("[KAREZ] Running.")
    workers = _children(proc.proc.pid)
    assert workers, "the first process forked no worker"
    proc.proc.kill()
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # polling other processes' state, not synchronising with our own code
    assert not any(_running(pid) for pid in workers), "a worker outlived the killed first process"


def test_each_stats_line_is_one_write_so_sibling_workers_never_splice_lines(monkeypatch):
    from karez.nats_options import NatsOptions
    from karez.runtime import Runtime

    writes: list[str] = []

    class Recorder:
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    runtime = Runtime({}, NatsOptions.from_address("nats://127.0.0.1:4222"), print_stats=True)
    monkeypatch.setattr(runtime, "format_stats", lambda: "[KAREZ] a: received=1\n[KAREZ] b: received=2")
    monkeypatch.setattr("sys.stdout", Recorder())
    runtime.print_stat_lines()
    assert writes == ["[KAREZ] a: received=1\n", "[KAREZ] b: received=2\n"]

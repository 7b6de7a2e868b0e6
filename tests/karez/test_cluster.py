"""A three-node JetStream cluster (tests/nats_cluster.py): replica detection, server-list failover, lease takeover."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from karez.cluster import cluster_size, parse_replicas, stream_replicas
from karez.leader import LEASE_BUCKET, lease_key
from karez.nats_options import server_address

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nats_cluster import NatsCluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nodes with routes and JetStream, each with its own store directory."""
    with NatsCluster(tmp_path / "cluster") as running:
        yield running


async def until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait for a condition with a generous deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)


async def test_streams_have_three_replicas_on_a_cluster_one_on_a_single_server(
    cluster, nats_server, start_runtime, tmp_path
):
    s = uuid.uuid4().hex[:8]
    config = {"aggregators": [{"type": "collect", "name": f"a{s}", "category": f"cat{s}", "db_name": "x"}]}
    clustered = await start_runtime(config, tmp_path, url=cluster.url, durable=True)
    assert cluster_size(clustered.nc) == 3
    js = clustered.nc.jetstream()
    for stream in (f"KAREZ_CATEGORY_cat{s}", "KAREZ_DLQ"):
        assert (await js.stream_info(stream)).config.num_replicas == 3

        async def on_every_node(stream: str = stream) -> bool:  # one copy per node: any one node may go
            cluster_info = (await js.stream_info(stream)).cluster
            placed = {cluster_info.leader, *(peer.name for peer in cluster_info.replicas or [])}
            return placed == {"n1", "n2", "n3"}

        await until_async(on_every_node, f"{stream} placed on the three nodes")

    (tmp_path / "single").mkdir()
    single = await start_runtime(config, tmp_path / "single", url=nats_server.url, durable=True)
    assert cluster_size(single.nc) == 1
    info = await single.nc.jetstream().stream_info(f"KAREZ_CATEGORY_cat{s}")
    assert info.config.num_replicas == 1


async def test_an_explicit_replica_count_wins_and_existing_streams_are_scaled_up(cluster, start_runtime, tmp_path):
    nc = await nats.connect(cluster.urls)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="KAREZ_CATEGORY_grown", subjects=["karez.grown.>"], num_replicas=1))
        config = {
            "aggregators": [
                {"type": "collect", "name": "g", "category": "grown", "db_name": "x"},
                {"type": "collect", "name": "two", "category": "two", "db_name": "x"},
            ]
        }
        await start_runtime(config, tmp_path, url=cluster.url, durable=True, replicas=3)
        assert (await js.stream_info("KAREZ_CATEGORY_grown")).config.num_replicas == 3
        (tmp_path / "r2").mkdir()
        config = {"aggregators": [{"type": "collect", "name": "r2", "category": "rtwo", "db_name": "x"}]}
        await start_runtime(config, tmp_path / "r2", url=cluster.url, durable=True, replicas=2)
        assert (await js.stream_info("KAREZ_CATEGORY_rtwo")).config.num_replicas == 2
        assert stream_replicas(nc, None) == 3 and stream_replicas(nc, 1) == 1
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--replicas", "9"], "replicas must be from 1 to 5"), (["--lease", "--lease-ttl", "0.5"], "lease TTL")],
)
def test_deploy_refuses_bad_cluster_options_in_one_line(tmp_path, option, message):
    from typer.testing import CliRunner

    from karez.cli import app

    (tmp_path / "karez.yaml").write_text(json.dumps(DISPATCHER))  # JSON is YAML
    plugins = str(Path(__file__).parent / "plugins")
    result = CliRunner().invoke(app, ["deploy", "-c", str(tmp_path / "karez.yaml"), "-p", plugins, *option])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) <= 2  # the config line, the error


def test_replica_counts_outside_what_jetstream_allows_are_refused():
    assert parse_replicas("auto") is None and parse_replicas(None) is None and parse_replicas("3") == 3
    for bad in ("0", "6", "three", "-1"):
        with pytest.raises(ValueError, match="replicas"):
            parse_replicas(bad)


async def test_a_durable_role_moves_to_a_surviving_node_and_loses_nothing(cluster, start_runtime, tmp_path):
    s = uuid.uuid4().hex[:8]
    category = f"fail{s}"
    config = {"aggregators": [{"type": "collect", "name": f"f{s}", "category": category, "db_name": "x"}]}
    runtime = await start_runtime(config, tmp_path, url=cluster.url, durable=True)
    (role,) = (r for _, r in runtime.all_roles())
    where = server_address(runtime.nc)
    victim = next(node for node in cluster.nodes if node.url.endswith(f":{where.rsplit(':', 1)[1]}"))
    publisher_node = next(node for node in cluster.nodes if node is not victim)
    pub = await nats.connect(publisher_node.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        js = pub.jetstream()

        async def publish(numbers: range) -> None:
            for i in numbers:
                for _ in range(100):  # a stream electing a new leader refuses writes for a moment
                    try:
                        await js.publish(f"karez.{category}.p", json.dumps({"i": i}).encode(), timeout=2)
                        break
                    except Exception:
                        await asyncio.sleep(0.2)
                else:
                    raise AssertionError(f"message {i} never stored")

        await publish(range(200))
        await until(lambda: len(role.__dict__.get("items", [])) >= 50, "the role received the first messages")
        victim.kill()  # the node the role is connected to vanishes, with whatever was in flight
        await publish(range(200, 400))
        received = lambda: {item["i"] for item in role.__dict__.get("items", [])}  # noqa: E731
        await until(lambda: received() == set(range(400)), "every message processed after the failover", 60)
        await until(lambda: server_address(runtime.nc) != where, "the role reconnected elsewhere")
    finally:
        await pub.close()


DISPATCHER = {
    "dispatchers": [{"type": "numbers", "connector": "numbers", "interval": 0.5, "count": 3}],
    "connectors": [{"type": "numbers"}],
}


async def test_one_dispatcher_is_active_and_a_standby_takes_over_after_sigkill(cluster, deploy, tmp_path):
    nc = await nats.connect(cluster.nodes[2].url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    tasks: list[float] = []

    async def on_task(msg) -> None:
        tasks.append(time.monotonic())

    await nc.subscribe("karez.connector.numbers", cb=on_task)
    procs = []
    for node in cluster.nodes[:2]:  # each instance on its own node, as on two hosts
        procs.append(await deploy(DISPATCHER, tmp_path, "-d", "-a", node.url, "--lease", "--lease-ttl", "2"))
    try:
        kv = await nc.jetstream().key_value(LEASE_BUCKET)
        key = lease_key("dispatcher", "numbers")

        async def holder_pid() -> int | None:
            try:
                entry = await kv.get(key)
            except Exception:
                return None
            return int(json.loads(entry.value)["holder"].split(":")[1]) if entry.value else None

        pids = [p.proc.pid for p in procs]
        holder: list[int | None] = [None]

        async def poll_holder() -> bool:
            holder[0] = await holder_pid()
            return holder[0] in pids

        await until_async(poll_holder, "one instance holds the lease")
        active = procs[pids.index(holder[0])]
        standby = procs[1 - pids.index(holder[0])]
        await until(lambda: len(tasks) >= 3, "the active instance dispatches")
        await active.kill()
        killed_at, before = time.monotonic(), len(tasks)

        async def standby_holds() -> bool:
            return await holder_pid() == standby.proc.pid

        await until_async(standby_holds, "the standby took the lease", 30)
        await until(lambda: len(tasks) >= before + 3, "the standby dispatches", 30)
        gap = next(t for t in tasks[before:] if t > killed_at) - killed_at
        print(f"takeover gap {gap:.1f} s (lease TTL 2 s)")
        output = await standby.terminate()
        assert "on standby" in output and "taken by" in output
    finally:
        await nc.close()


async def until_async(predicate, what: str, timeout: float = 30.0) -> None:
    """`until` for an async predicate."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def unadvertised_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nodes that tell clients of no other node: a client given one node knows only that one."""
    with NatsCluster(tmp_path / "cluster", advertise=False) as running:
        yield running


async def test_a_partitioned_holder_steps_down_before_a_standby_can_take_the_lease(unadvertised_cluster):
    from karez.leader import Lease, LeaseOptions, open_buckets

    cluster = unadvertised_cluster
    options = LeaseOptions(ttl=2.0, replicas=3)
    # the holder knows only n1 (the nodes advertise no others): killing n1 cuts it off, as a partition does
    holder_nc = await nats.connect(cluster.nodes[0].url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    standby_nc = await nats.connect(cluster.urls[1:], max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        holder = Lease(*await open_buckets(holder_nc, options), "test.partition", "holder", options.ttl)
        standby = Lease(*await open_buckets(standby_nc, options), "test.partition", "standby", options.ttl)
        await holder.acquire()
        holding = asyncio.create_task(holder.hold())
        order: list[str] = []

        async def note_loss() -> None:
            await holder.lost.wait()
            order.append("holder stepped down")

        async def take_over() -> None:
            await standby.acquire()
            order.append("standby took over")

        watchers = [asyncio.create_task(note_loss()), asyncio.create_task(take_over())]
        await asyncio.to_thread(cluster.nodes[0].kill)
        await asyncio.wait_for(asyncio.gather(*watchers), timeout=60)
        assert order == ["holder stepped down", "standby took over"]
        holding.cancel()
    finally:
        for client in (holder_nc, standby_nc):
            with contextlib.suppress(Exception):  # the holder's only node is gone: closing cannot flush
                await client.close()


async def test_instances_that_start_together_all_open_the_lease_buckets(cluster):
    """Hosts restarted together race to create the buckets, which answer nothing until their replicas elect a leader:
    before the retry, about a third of such starts failed, and that process never stood by."""
    from karez.leader import STATE_BUCKET, LeaseOptions, open_buckets

    clients = [await nats.connect(url) for url in cluster.urls]
    try:
        for _ in range(6):
            for bucket in (LEASE_BUCKET, STATE_BUCKET):
                with contextlib.suppress(Exception):
                    await clients[0].jetstream().delete_key_value(bucket)
            opened = await asyncio.gather(
                *(open_buckets(nc, LeaseOptions(replicas=3)) for nc in clients), return_exceptions=True
            )
            assert [type(result).__name__ for result in opened] == ["tuple"] * len(clients), opened
    finally:
        for nc in clients:
            await nc.close()


async def test_a_stream_is_placed_once_enough_nodes_are_back_and_other_refusals_are_not_retried():
    from nats.js.errors import BadRequestError

    from karez.durable import NO_PEERS_FOR_PLACEMENT, once_placed

    calls = []

    async def placed_on_third_try():
        calls.append(1)
        if len(calls) < 3:
            raise BadRequestError(code=400, err_code=NO_PEERS_FOR_PLACEMENT, description="no suitable peers")
        return "placed"

    assert await once_placed(placed_on_third_try) == "placed" and len(calls) == 3

    async def refused():
        calls.append(1)
        raise BadRequestError(code=400, err_code=10058, description="stream name already in use")

    calls.clear()
    with pytest.raises(BadRequestError):
        await once_placed(refused)
    assert len(calls) == 1

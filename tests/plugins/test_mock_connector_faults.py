"""tiro_mock connector when the mock server fails: down, 5xx, 4xx, garbage answers; durable redelivery end to end."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable

import httpx
import nats
import orjson
import pytest

from karez.delivery import delivery_for
from karez.durable import DurableLink, ensure_stream, stream_for
from karez.errors import is_data_error, is_retryable
from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer, free_port
from tiro.mock.service import example_service
from tiro.plugins.karez import ConnectorForMockServer
from tiro.plugins.karez.mock_collector import MockServerUnavailable

PATHS = ["DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower", "DataHall.data_hall_0.Rack.rack_1.Telemetry.X"]


def _connector(url: str, *, batch: bool, durable: bool, **config) -> ConnectorForMockServer:
    config = {"batch_fetch": batch, **config}  # per-item tests mean per-point GETs unless they say otherwise
    connector = ConnectorForMockServer({"type": "tiro_mock", "base_url": url, "batch": batch, **config}, nats_addr=None)
    connector.delivery = delivery_for(listens=True, durable=durable)  # failures must reach the durable consumer
    return connector


async def _fetch(connector: ConnectorForMockServer, paths: list[str]) -> list[dict]:
    try:
        return await connector.process(paths)
    finally:
        await connector.close_http_client()


async def _http_server(answer: Callable[[str, str], tuple[int, bytes]]) -> AsyncIterator[str]:
    """A minimal HTTP/1.1 server on 127.0.0.1 answering `answer(method, path)`; yields its base URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                status, body = answer(method, target)
                head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                writer.write(head.encode() + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def answering():
    """answering(fn): start a tiny HTTP server that answers every request with fn(method, path)."""
    servers = []

    async def start(answer: Callable[[str, str], tuple[int, bytes]]) -> str:
        gen = _http_server(answer)
        servers.append(gen)
        return await gen.__anext__()

    yield start
    for gen in servers:
        await gen.aclose()


@pytest.mark.parametrize("batch", [False, True])
async def test_a_server_that_is_down_is_an_error_and_in_durable_mode_a_retryable_one(batch):
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    core = _connector(down, batch=batch, durable=False)
    assert await _fetch(core, PATHS) == []
    assert core.stats.errors == 1  # one per task batch, not silence
    durable = _connector(down, batch=batch, durable=True)
    with pytest.raises(MockServerUnavailable, match="ConnectError") as raised:
        await _fetch(durable, PATHS)
    assert is_retryable(raised.value) and not is_data_error(raised.value)
    assert durable.stats.errors == 1


@pytest.mark.parametrize("batch", [False, True])
async def test_5xx_is_retryable_and_4xx_is_a_data_error_named_by_its_path(answering, batch, caplog):
    def answer(method: str, target: str) -> tuple[int, bytes]:
        if target.endswith("ActivePower") or method == "POST":
            return 503, b'{"detail": "busy"}'
        return 404, b'{"detail": "unknown path"}'

    url = await answering(answer)
    with pytest.raises(MockServerUnavailable, match="503") as raised:
        await _fetch(_connector(url, batch=batch, durable=True), PATHS)
    assert is_retryable(raised.value) and not is_data_error(raised.value)

    refused = await answering(lambda method, target: (404, b'{"detail": "not found"}'))
    connector = _connector(refused, batch=batch, durable=True)
    with caplog.at_level(logging.ERROR, logger="karez"):
        assert await _fetch(connector, PATHS) == []  # not raised: redelivering cannot make the path known
    assert connector.stats.errors == (1 if batch else 2)
    if not batch:
        assert all(any(path in r.getMessage() and "404" in r.getMessage() for r in caplog.records) for path in PATHS)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not json",
        b"[1, 2]",
        b'{"points": [1, 2]}',
        b'"just a string"',
        b'{"columns": [1]}',
        b'{"columns": {"path": ["a"], "value": [1, 2], "timestamp": [1], "unit": [null]}}',
        b'{"columns": {"path": [1], "value": [1], "timestamp": [1], "unit": [null]}}',
        b'{"columns": {"path": ["a"], "value": [1], "timestamp": [1], "unit": [null]}, "other": 5}',
    ],
    ids=["not-json", "array", "points-not-object", "string", "columns-array", "ragged", "int-path", "other-number"],
)
@pytest.mark.parametrize("frames", [False, True])
async def test_a_malformed_batch_answer_is_logged_and_counted(answering, body, caplog, frames):
    url = await answering(lambda method, target: (200, body))
    connector = _connector(url, batch=True, durable=True, **({"frames": True} if frames else {}))
    with caplog.at_level(logging.ERROR, logger="karez"):
        assert await _fetch(connector, PATHS) == []
    assert connector.stats.errors == 1
    assert any("not a batch answer" in r.getMessage() for r in caplog.records)


async def test_a_malformed_per_point_answer_skips_only_that_point(answering):
    def answer(method: str, target: str) -> tuple[int, bytes]:
        return (200, b'{"value": 1, "timestamp": "2026-01-01T00:00:00+00:00"}') if "CRAC" in target else (200, b"{")

    connector = _connector(await answering(answer), batch=False, durable=True)
    items = await _fetch(connector, PATHS)
    assert [i["path"] for i in items] == PATHS[:1] and connector.stats.errors == 1


async def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll what the role updates as it works (the bound only stops a hung test; nothing is timed)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("batch", [False, True])
async def test_durable_mode_collects_every_point_exactly_once_across_a_mock_outage(nats_server, batch):
    service = example_service(seed=3)
    port = free_port()
    mock = BackgroundServer(create_asgi(service), port=port).start()
    paths = httpx.get(f"{mock.url}/points/", timeout=30).json()
    tasks = [paths[i : i + 10] for i in range(0, len(paths), 10)]
    connector = ConnectorForMockServer(
        {"type": "tiro_mock", "name": "mock", "base_url": mock.url, "batch": batch, "durable": True, "max_deliver": 2},
        nats_addr=nats_server.url,
    )
    connector.delivery = DurableLink()
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    stream, subject, durable_name = stream_for(connector)
    await ensure_stream(js, stream, subject)
    collected: Counter[str] = Counter()
    dead: list[dict] = []

    async def on_items(msg) -> None:
        body = json.loads(msg.data)
        collected.update(item["path"] for item in (body if isinstance(body, list) else [body]))

    async def on_dead(msg) -> None:
        dead.append(json.loads(msg.data))

    await client.subscribe("karez.telemetry.mock", cb=on_items)
    await client.subscribe("karez.attribute.mock", cb=on_items)
    await client.subscribe("karez.dlq.>", cb=on_dead)
    role = asyncio.create_task(connector.run())
    half = len(tasks) // 2
    try:
        for task in tasks[:half]:
            await js.publish(subject, json.dumps({"tasks": task}).encode())
        await _until(lambda: sum(collected.values()) == sum(map(len, tasks[:half])), "the first half")
        await asyncio.to_thread(mock.stop)
        for task in tasks[half:]:
            await js.publish(subject, json.dumps({"tasks": task}).encode())
        # past max_deliver (2): the failing tasks keep waiting instead of going to the dead-letter subject
        await _until(lambda: connector.stats.errors >= 4, "deliveries that fail while the mock is down")
        mock = BackgroundServer(create_asgi(service), port=port).start()
        await _until(lambda: sum(collected.values()) >= len(paths), "every point after the mock is back")
        for _ in range(3000):
            info = await js.consumer_info(stream, durable_name)
            if info.num_ack_pending == 0 and info.num_pending == 0:
                break
            await asyncio.sleep(0.02)
        await client.flush()
        assert (info.num_ack_pending, info.num_pending) == (0, 0)
        assert collected == Counter(paths)  # every point, exactly once
        assert dead == []
    finally:
        await client.close()
        role.cancel()
        await asyncio.gather(role, return_exceptions=True)
        await connector.drain()
        await connector.close()
        await asyncio.to_thread(mock.stop)


async def test_per_item_messages_still_fetch_a_task_with_one_batch_request(answering):
    calls: list[tuple[str, str]] = []

    def answer(method: str, target: str) -> tuple[int, bytes]:
        calls.append((method, target))
        points = {p: {"value": 1.5, "timestamp": 1664251882.5} for p in PATHS}
        return 200, orjson.dumps({"points": points, "unknown": []})

    connector = _connector(await answering(answer), batch=False, durable=False, batch_fetch="auto")
    items = await _fetch(connector, PATHS)
    assert [i["path"] for i in items] == PATHS and calls == [("POST", "/points/batch")]


async def test_a_mock_without_the_batch_route_is_fetched_point_by_point_from_then_on(answering, caplog):
    caplog.set_level(logging.INFO)
    calls: list[tuple[str, str]] = []

    def answer(method: str, target: str) -> tuple[int, bytes]:  # Tiro 0.13's mock: GET /points/{path} only
        calls.append((method, target))
        if method == "POST":
            return 405, b'{"detail": "Method Not Allowed"}'
        return 200, orjson.dumps({"value": 2.5, "timestamp": 1664251882.5})

    connector = ConnectorForMockServer({"type": "tiro_mock", "base_url": await answering(answer)}, nats_addr=None)
    try:
        first = await connector.process(PATHS)
        second = await connector.process(PATHS)
    finally:
        await connector.close_http_client()
    assert [i["path"] for i in first] == PATHS == [i["path"] for i in second]
    assert [m for m, _ in calls].count("POST") == 1 and len(calls) == 1 + 2 * len(PATHS)
    assert connector.stats.errors == 0 and "no POST /points/batch" in caplog.text


def test_batch_fetch_must_be_auto_true_or_false():
    with pytest.raises(ValueError, match="batch_fetch must be auto, true or false"):
        ConnectorForMockServer({"type": "tiro_mock", "batch_fetch": "sometimes"}, nats_addr=None)


async def test_frames_from_a_faulty_mock_hold_its_corrupted_values_and_leave_out_its_withheld_points():
    from karez import frames
    from tiro.mock.faults import FaultInjector

    service = example_service(seed=3)
    service.faults = FaultInjector(0.5, seed=3)
    rows, values = [], []
    with BackgroundServer(create_asgi(service)) as mock:
        connector = _connector(mock.url, batch=True, durable=False, frames=True)
        for _ in range(5):  # faults are drawn per request
            items = await _fetch(connector, service.listed)
            assert all(frames.is_frame(item) for item in items)
            rows.append(frames.count_items(items))
            values += [v for item in items for v in item["columns"]["value"]]
    assert min(rows) < len(service.listed)  # withheld points are not in the answer
    assert "not-a-number" in values  # a corrupted value is a value like any other
    assert connector.stats.errors == 0


async def test_the_mock_roles_let_go_of_each_http_response_at_once():
    """httpx links a response and its stream both ways: unless the roles unlink them, every listing and every batch
    answer (megabytes at a site's size) waits for a full garbage collection, and the process grows between them."""
    import gc

    from tiro.plugins.karez import DispatcherForMockServer

    service = example_service(seed=3)
    with BackgroundServer(create_asgi(service)) as mock:
        dispatcher = DispatcherForMockServer(
            {"type": "tiro_mock", "connector": "tiro_mock", "base_url": mock.url, "interval": 1}, nats_addr=None
        )
        connector = _connector(mock.url, batch=True, durable=False, frames=True)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(3):
                assert await dispatcher.load_entities() == service.listed
                assert await connector.process(service.listed)
            gc.collect()
            kept = [o for o in gc.garbage if isinstance(o, httpx.Response)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            await connector.close_http_client()
            await dispatcher.close()
    assert kept == []


async def test_the_dispatcher_reads_the_listing_once_and_then_gets_not_modified():
    """A 10^5-point listing is megabytes: asked with its ETag every round, the mock answers 304 without a body; a
    server without ETags (Tiro 0.13's mock) is read in full every round, as before."""
    from tiro.plugins.karez import DispatcherForMockServer

    service = example_service(seed=3)
    statuses: list[int] = []
    app = create_asgi(service)

    async def counting(scope, receive, send):
        async def recorded(message):
            if message["type"] == "http.response.start" and scope.get("path") == "/points/":
                statuses.append(message["status"])
                if not etags:  # the old server: no ETag header
                    message = {**message, "headers": [h for h in message["headers"] if h[0].lower() != b"etag"]}
            await send(message)

        await app(scope, receive, recorded)

    for etags in (True, False):
        statuses.clear()
        with BackgroundServer(counting) as mock:
            dispatcher = DispatcherForMockServer(
                {"type": "tiro_mock", "connector": "tiro_mock", "base_url": mock.url, "interval": 1}, nats_addr=None
            )
            try:
                for _ in range(3):
                    assert await dispatcher.load_entities() == service.listed
            finally:
                await dispatcher.close()
        assert statuses == ([200, 304, 304] if etags else [200, 200, 200])

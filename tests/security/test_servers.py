"""Every server binds loopback by default, and the mock server rejects oversized and malformed requests."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from karez.embedded_nats import EmbeddedNats
from tiro.examples import example_dir, example_files
from tiro.mock.app import MAX_BODY_BYTES, create_asgi
from tiro.mock.server import BackgroundServer, free_port
from tiro.mock.service import example_service

LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as the kernel lists them) of TCP sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads the Linux socket table")


@needs_proc
def test_embedded_nats_listens_on_loopback_only() -> None:
    with EmbeddedNats() as server:
        assert _listening_addresses(server.port) == {LOOPBACK_HEX}
        assert _listening_addresses(server.monitor_port) == {LOOPBACK_HEX}


@needs_proc
def test_background_mock_server_listens_on_loopback_by_default() -> None:
    assert inspect.signature(BackgroundServer).parameters["host"].default == "127.0.0.1"
    with BackgroundServer(create_asgi(example_service(seed=1))) as server:
        assert _listening_addresses(server.port) == {LOOPBACK_HEX}


def test_mock_flow_and_cli_default_to_loopback() -> None:
    from tiro.cli.mock_cmd import serve
    from tiro_prefect.flows.mock import serve_mock

    assert inspect.signature(serve).parameters["host"].default.default == "127.0.0.1"
    assert inspect.signature(serve_mock.fn).parameters["host"].default == "127.0.0.1"


@needs_proc
def test_tiro_mock_serve_binds_loopback(tmp_path: Path) -> None:
    scenario, uses = example_files(example_dir("datahall"))
    port = free_port()
    tiro = str(Path(sys.executable).with_name("tiro"))
    proc = subprocess.Popen(
        [tiro, "mock", "serve", str(scenario), *map(str, uses), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _listening_addresses(port):  # polling a child process until it listens, bounded against a hang
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "tiro mock serve did not start"
            time.sleep(0.05)
        assert _listening_addresses(port) == {LOOPBACK_HEX}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture(scope="module")
def mock_server():
    """A real uvicorn mock server for the datahall example."""
    with BackgroundServer(create_asgi(example_service(seed=2))) as server:
        yield server


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" + b'"a",' * (MAX_BODY_BYTES // 4) + b'"a"]', 413),
        (b"not json", 400),
        (b"[NaN]", 400),
        (b"\xff\xfe", 400),
        (b'{"paths": ["a"]}', 422),
        (b"[1, 2]", 422),
        (json.dumps(["x"] * 250_000).encode(), 413),
    ],
    ids=["over 8 MiB", "not JSON", "NaN", "not UTF-8", "object", "numbers", "too many paths"],
)
def test_batch_rejects_oversized_and_malformed_bodies(mock_server, body: bytes, status: int) -> None:
    answer = httpx.post(f"{mock_server.url}/points/batch", content=body, timeout=60)
    assert answer.status_code == status, answer.text[:200]
    assert "detail" in answer.json()


def test_streamed_oversized_body_is_cut_off(mock_server) -> None:
    def chunks():
        yield b"["
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    answer = httpx.post(f"{mock_server.url}/points/batch", content=chunks(), timeout=60)
    assert answer.status_code == 413


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /points/ HTTP/9.9\r\nHost: x\r\n\r\n",
        b"POST /points/batch HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n[]",
        b"GET /\x00\xff HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /points/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    ],
    ids=["no request line", "bad version", "bad length", "bad bytes in target", "length and chunked"],
)
def test_malformed_http_is_refused_and_the_server_keeps_serving(mock_server, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", mock_server.port), timeout=30) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply:
                break
    if reply:  # uvicorn answers a 4xx or closes the connection; it never crashes or answers 5xx
        status = int(reply.split(b" ", 2)[1])
        assert 400 <= status < 500, reply[:200]
    assert httpx.get(f"{mock_server.url}/points/", timeout=30).status_code == 200


def test_a_huge_header_does_not_break_the_server(mock_server) -> None:
    """uvicorn takes a 100 kB header (it sets no header limit); what matters is no 5xx and no harm to others."""
    answer = httpx.get(f"{mock_server.url}/points/", headers={"X-Long": "a" * 100_000}, timeout=30)
    assert answer.status_code < 500
    assert httpx.get(f"{mock_server.url}/hierarchy", timeout=30).status_code == 200

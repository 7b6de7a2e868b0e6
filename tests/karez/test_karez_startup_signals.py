"""`karez deploy` stops at once on SIGTERM/SIGINT while NATS is unreachable at start-up (docker stop, systemd, a
cancelled Prefect run), and a bounded start-up wait exits 2 naming the address."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import nats
import orjson
import pytest
import yaml

CONFIG = {"converters": [{"type": "echo", "name": "startup"}]}
PLUGINS = Path(__file__).parent / "plugins"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(tmp_path, *extra: str) -> tuple[subprocess.Popen, str]:
    config = tmp_path / "karez.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    address = f"nats://127.0.0.1:{_closed_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "karez.cli", "deploy", "-c", str(config), "-a", address, *extra],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return proc, address


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_startup_stops_cleanly(tmp_path, sig):
    proc, address = _start(tmp_path, "-l", "WARNING")
    try:
        assert proc.stderr is not None
        # The first failed attempt is logged: the process is now inside its retrying connect.
        first = proc.stderr.readline()  # asyncio's loop and uvloop word a refused connection differently
        assert "Connect call failed" in first or "ConnectionRefusedError" in first, first
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)  # a hang-detector, not a speed check: it used to ignore the signal
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "CancelledError" not in err
    assert out.splitlines()[-1] == f"[KAREZ] Stopped before start-up finished: never connected to NATS at {address}."


def test_connect_timeout_exits_2_naming_the_address(tmp_path):
    proc, address = _start(tmp_path, "--connect-timeout", "0.5")
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == f"cannot connect to NATS at {address} within 0.5 s"
    assert "Running" not in out


async def test_a_second_signal_during_drain_is_one_line(tmp_path, nats_server):
    """Draining waits for a slow converter; a second SIGTERM ends it with one line, not a CancelledError traceback."""
    config = tmp_path / "karez.yaml"
    config.write_text(yaml.safe_dump({"converters": [{"type": "slow", "name": "second", "delay": 0.2}]}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "karez.cli", "deploy", "-c", str(config), "-p", str(PLUGINS), "-a", nats_server.url,
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        while b"[KAREZ] Running." not in await asyncio.wait_for(proc.stdout.readline(), 30):
            pass
        nc = await nats.connect(nats_server.url)
        for i in range(50):  # 10 s of work: the drain is still busy when the second signal comes
            await nc.publish("karez.converter.second", orjson.dumps({"i": i}))
        await nc.flush()
        await nc.close()
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = err.decode()
    assert "Traceback" not in text and "CancelledError" not in text, text
    assert proc.returncode == 1
    assert text.splitlines()[-1] == "[KAREZ] Stopped by a second signal before draining finished."

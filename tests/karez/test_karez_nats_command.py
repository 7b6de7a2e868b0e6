"""`karez nats`: a local JetStream NATS on the configured port whose streams survive a restart; one-line errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
from process_groups import stop_group

from karez.embedded_nats import free_port
from karez.nats_cmd import configured_port, default_store_dir

KAREZ = str(Path(sys.executable).with_name("karez"))


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAREZ_NATS_ADDR", "NATS_URL")}
    return {**env, **extra}


def _start(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([KAREZ, "nats", *args], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_announced(process: subprocess.Popen) -> str:
    line = process.stderr.readline()
    assert "NATS with JetStream on" in line, line
    return line


async def _stream_subjects(url: str, create: bool) -> list[str]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        if create:
            await js.add_stream(name="KEPT", subjects=["kept.>"])
            await js.publish("kept.one", b"1")
        info = await js.stream_info("KEPT")
        return [*info.config.subjects, str(info.state.messages)]
    finally:
        await nc.close()


def test_serves_the_port_of_nats_url_and_keeps_streams_across_a_restart(tmp_path):
    port = free_port()
    env = _environment(NATS_URL=f"nats://127.0.0.1:{port}", XDG_DATA_HOME=str(tmp_path / "data"))
    for create in (True, False):
        server = _start(env)
        try:
            line = _wait_announced(server)
            assert f"nats://127.0.0.1:{port}" in line and str(tmp_path / "data" / "karez" / "nats") in line
            assert asyncio.run(_stream_subjects(f"nats://127.0.0.1:{port}", create)) == ["kept.>", "1"]
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                assert server.wait(timeout=20) == 0
            finally:
                stop_group(server)


def test_a_taken_port_is_one_line_and_exit_2(tmp_path):
    port = free_port()
    first = _start(_environment(), "--port", str(port), "--store-dir", str(tmp_path / "a"))
    try:
        _wait_announced(first)
        started = time.monotonic()
        second = subprocess.run(
            [KAREZ, "nats", "--port", str(port), "--store-dir", str(tmp_path / "b")],
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert time.monotonic() - started < 30
    finally:
        stop_group(first)
    assert second.returncode == 2
    assert (
        second.stderr.strip()
        == f"port {port} on 127.0.0.1 is already in use (another NATS server?): stop it or use --port"
    )


def test_defaults_follow_the_environment(tmp_path):
    assert configured_port({}) == 4222
    assert configured_port({"NATS_URL": "nats://a:1,nats://b:2"}) == 1
    assert configured_port({"KAREZ_NATS_ADDR": "nats://user:pw@host:4333", "NATS_URL": "nats://c:3"}) == 4333
    assert default_store_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "karez" / "nats"
    assert default_store_dir({}) == Path.home() / ".local" / "share" / "karez" / "nats"

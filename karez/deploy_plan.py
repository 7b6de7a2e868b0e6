"""What `karez deploy` decided before any role starts: one typed value handed to each worker process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from karez.leader import LeaseOptions
from karez.nats_options import NatsOptions, resolve_address, servers_in_order


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """How the roles of one process run (the `Runtime` keyword arguments)."""

    shared_connection: bool = True
    durable: bool = False
    metrics_interval: float = 10.0
    print_stats: bool = False
    connect_timeout: float | None = None
    replicas: int | None = None  # of the streams created; None: 1 on a single server, 3 on a cluster of three or more
    lease: LeaseOptions | None = None  # singleton roles active in one process across hosts (karez.leader)
    fuse: bool = True  # converters of the same process get items in memory (karez.fusion); False: a hop each

    def as_kwargs(self) -> dict[str, Any]:
        """The options as `Runtime(...)` keyword arguments."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class DeployPlan:
    """The settings, plugins, role kinds, NATS address and credentials, and runtime options of a deploy."""

    settings: Mapping[str, Any]
    plugins: Mapping[str, Mapping[str, type]]
    kinds: tuple[str, ...]
    nats_addr: str | None = None
    embedded_nats: bool = False
    credentials: Mapping[str, str | None] = field(default_factory=dict)  # NatsOptions fields: user, tls_ca, …
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)

    def nats_options(self, address: str | None = None) -> NatsOptions:
        """The connection options for `address` (default: `-a`, then the environment, then localhost)."""
        in_order = servers_in_order()
        return NatsOptions.from_address(
            address or resolve_address(self.nats_addr), no_randomize=in_order, **self.credentials
        )

    def for_worker(self, kinds: tuple[str, ...], nats_addr: str) -> DeployPlan:
        """The plan of a forked worker: its kinds, on the server every worker shares."""
        return replace(self, kinds=kinds, nats_addr=nats_addr, embedded_nats=False)

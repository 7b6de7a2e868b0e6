"""Run the roles of a configuration in one asyncio process: ordered start, supervision, metrics, drain."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

from nats.aio.client import Client
from nats.js.kv import KeyValue

from karez import codec
from karez.converter.base import next_targets
from karez.delivery import delivery_for
from karez.durable import kind_token
from karez.fusion import fused_links, plan_fusion
from karez.leader import Lease, LeaseOptions, is_singleton, lead, lease_key, open_buckets
from karez.nats_options import NatsOptions, connect, server_address
from karez.plugins import KINDS
from karez.role import RoleBase
from karez.settings import ConfigError, role_configs
from karez.subjects import metrics_subject

logger = logging.getLogger("karez")

START_ORDER = ("aggregator", "converter", "connector", "dispatcher")
RESTART_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


GC_YOUNG_THRESHOLD = 20_000


def tune_gc_for_batches() -> None:
    """Collect young objects less often in a process that runs roles (6–8% less CPU per item in bench/bus.py).

    A batch decodes into thousands of dicts that are never garbage cycles; the default threshold is 700."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def build_roles(
    settings: Mapping[str, Any],
    plugins: Mapping[str, Mapping[str, type]],
    kinds: tuple[str, ...] = KINDS,
    nats_addr: str | None = None,
    worker: int = 0,
) -> dict[str, list[RoleBase]]:
    """Instantiate the roles of the selected kinds (for worker process `worker`: `ONE_WORKER` roles only in the
    first); construction errors name the role and its file:line."""
    roles: dict[str, list[RoleBase]] = {kind: [] for kind in KINDS}
    for kind in kinds:
        for i, cfg in enumerate(role_configs(settings, kind)):
            type_name = cfg.get("type")
            cls = plugins[kind].get(type_name)
            where = f"{getattr(cfg, 'origin', '') or kind + 's'}[{i}]"
            if cls is None:
                raise ConfigError(f"{where}: Cannot find {kind.capitalize()} plugin: {type_name}")
            if worker and getattr(cls, "ONE_WORKER", False):
                continue
            try:
                roles[kind].append(cls(cfg, nats_addr=nats_addr))
            except Exception as e:
                raise ConfigError(f"{where}: cannot create {kind} {type_name!r}: {e}") from e
    return roles


def converter_drain_order(converters: list[RoleBase]) -> list[RoleBase]:
    """Converters ordered upstream first (by `next` links), so drained outputs still find a subscriber."""
    by_name = {c.name: c for c in converters}
    indegree = {c.name: 0 for c in converters}
    for c in converters:
        for t in next_targets(c):
            if t in indegree:
                indegree[t] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for t in next_targets(by_name[n]):
            if t in indegree:
                indegree[t] -= 1
                if indegree[t] == 0:
                    ready.append(t)
    order += [n for n in indegree if n not in order]
    seen: set[int] = set()
    result = []
    for n in order:
        for c in converters:
            if c.name == n and id(c) not in seen:
                seen.add(id(c))
                result.append(c)
    return result


class StartupTimeout(Exception):
    """Start-up (connecting to NATS, subscribing) did not finish within the allowed time."""


class Runtime:
    """All roles of one deploy process."""

    def __init__(
        self,
        roles: dict[str, list[RoleBase]],
        options: NatsOptions,
        shared_connection: bool = True,
        durable: bool = False,
        metrics_interval: float = 10.0,
        print_stats: bool = False,
        on_launched: Callable[[str, int], None] | None = None,
        connect_timeout: float | None = None,
        replicas: int | None = None,
        lease: LeaseOptions | None = None,
        fuse: bool = True,
    ) -> None:
        self.roles = roles
        self.fuse = fuse  # converters of this process get items in memory (karez.fusion)
        self.replicas = replicas  # of the JetStream streams the roles create; None: detected (karez.cluster)
        self.lease = lease  # when set, singleton roles run only while this process holds their lease (karez.leader)
        self._leases: dict[int, Lease] = {}  # id(role) -> its lease
        self.connect_timeout = connect_timeout
        self.options = options
        self.shared_connection = shared_connection
        self.durable = durable
        self.metrics_interval = metrics_interval
        self.print_stats = print_stats
        self.on_launched = on_launched
        self.nc: Any = None
        self.stopped = False
        self.reconnected = asyncio.Event()  # set after each reconnect of the shared connection
        self._supervisors: list[asyncio.Task[Any]] = []
        self._metrics_task: asyncio.Task[Any] | None = None
        self._lease_nc: Client | None = None  # the leases' own connection when each role has its own

    def all_roles(self) -> list[tuple[str, RoleBase]]:
        """(kind, role) pairs in start order."""
        return [(kind, role) for kind in START_ORDER for role in self.roles.get(kind, [])]

    async def _connection_error(self, e: Exception) -> None:
        logger.warning("NATS error: %s: %s", type(e).__name__, e)

    async def _disconnected(self) -> None:
        if not self.stopped:
            logger.warning("Disconnected from NATS.")

    async def _reconnected(self) -> None:
        where = server_address(self.nc)
        logger.warning("Reconnected to NATS at %s.", where)
        self.reconnected.set()

    async def start(self) -> None:
        """Connect, then start aggregators → converters → connectors → dispatchers, each subscribed and flushed."""
        if self.shared_connection:
            self.nc = await connect(
                self.options,
                name="karez",
                error_cb=self._connection_error,
                disconnected_cb=self._disconnected,
                reconnected_cb=self._reconnected,
            )
        buckets = await self._lease_buckets()
        self._assign_deliveries()
        for kind in START_ORDER:
            roles = self.roles.get(kind, [])
            for role in roles:
                role.nats_options = self.options
                if self.nc is not None:
                    role.nc = self.nc
                    role.owns_connection = False
                if buckets is not None and self.lease is not None and is_singleton(kind, role):
                    # started by `lead` once this process holds the lease: a standby must not even subscribe
                    key = lease_key(kind_token(role), role.name)
                    self._leases[id(role)] = Lease(*buckets, key, self.lease.holder, self.lease.ttl)
                    continue
                await role.start()
            if roles and self.on_launched:
                self.on_launched(kind, len(roles))
        for kind, role in self.all_roles():
            self._supervisors.append(asyncio.create_task(self._supervise(role), name=f"{kind}:{role.name}"))
        if self.metrics_interval > 0:
            self._metrics_task = asyncio.create_task(self._metrics_loop())

    def _assign_deliveries(self) -> None:
        """Give each role its delivery (core or durable), then the converters it hands items to in memory."""
        for _, role in self.all_roles():
            wants_durable = role.config.durable
            durable = wants_durable if wants_durable is not None else self.durable
            role.delivery = delivery_for(role.listens, durable, self.replicas)
        if self.fuse:
            plan_fusion(self._chain_heads(), self.roles.get("converter", []))

    def _chain_heads(self) -> list[RoleBase]:
        """The roles that route items to converters: connectors and converters."""
        return [*self.roles.get("connector", []), *self.roles.get("converter", [])]

    def framed_roles(self) -> list[str]:
        """The names of the roles that read and publish frames (`frames: true` or `json`), in start order, once each."""
        return list(dict.fromkeys(role.name for _, role in self.all_roles() if role.frames_encoding is not None))

    def fused_links(self) -> list[str]:
        """The in-memory links of this process's chains, `head → converter, …` (empty with fuse off)."""
        return fused_links(self._chain_heads())

    async def _lease_buckets(self) -> tuple[KeyValue, KeyValue] | None:
        """The lease buckets, when leases are on and this process runs a singleton role."""
        if self.lease is None or not any(is_singleton(kind, role) for kind, role in self.all_roles()):
            return None
        nc: Client | None = self.nc
        if nc is None:  # one connection per role: the leases get one of their own
            nc = self._lease_nc = await connect(self.options, name="karez-leases")
        return await open_buckets(nc, self.lease)

    async def _supervise(self, role: RoleBase) -> None:
        """Run a role; restart it with backoff when it crashes, without touching the others."""
        failures = 0
        lease = self._leases.get(id(role))
        while True:
            try:
                if lease is not None:
                    await lead(role, lease, role.run)
                else:
                    await role.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                delay = RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)]
                failures += 1
                role.stats.restarts += 1
                role.stats.errors += 1
                logger.error("%s crashed (%s: %s); restarting in %.1fs", role, type(e).__name__, e, delay)
                await asyncio.sleep(delay)

    def stats_snapshot(self) -> list[dict[str, Any]]:
        """Counters of every role."""
        return [{"kind": kind_token(role), "name": role.name, **role.stats.as_dict()} for _, role in self.all_roles()]

    def format_stats(self) -> str:
        """Human-readable counters, one line per role."""
        return "\n".join(
            f"[KAREZ] {s['kind']} {s['name']}: received={s['received']} published={s['published']} "
            f"errors={s['errors']} dropped={s['dropped']} restarts={s['restarts']}"
            for s in self.stats_snapshot()
        )

    def print_stat_lines(self) -> None:
        """Print the counters, each line in one write so that workers sharing a pipe never splice lines."""
        # print() writes the text and its newline separately; with PYTHONUNBUFFERED (as in containers) each is its
        # own write(2), and a sibling worker's line can land between them. One write of under PIPE_BUF is atomic.
        for line in self.format_stats().splitlines():
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    async def publish_metrics(self) -> None:
        """Publish each role's counters on `karez.metrics.<kind>.<name>`."""
        for kind, role in self.all_roles():
            nc = role.nc
            if nc is not None and nc.is_connected:
                body = {"kind": kind, "name": role.name, **role.stats.as_dict()}
                await nc.publish(metrics_subject(kind, role.name), codec.dumps(body))

    async def _metrics_loop(self) -> None:
        while True:
            await asyncio.sleep(self.metrics_interval)
            try:
                await self.publish_metrics()
            except Exception as e:
                logger.warning("Cannot publish metrics: %s: %s", type(e).__name__, e)
            if self.print_stats:
                self.print_stat_lines()

    async def shutdown(self) -> None:
        """Graceful drain: upstream roles stop first, each finishes and publishes what it received."""
        if self.stopped:
            return
        self.stopped = True
        if self._metrics_task is not None:
            self._metrics_task.cancel()
        dispatcher_tasks = [t for t in self._supervisors if t.get_name().startswith("dispatcher:")]
        for t in dispatcher_tasks:
            t.cancel()
        order = (
            self.roles.get("dispatcher", [])
            + self.roles.get("connector", [])
            + converter_drain_order(self.roles.get("converter", []))
            + self.roles.get("aggregator", [])
        )
        for role in order:
            try:
                await asyncio.wait_for(role.drain(), timeout=60)
            except Exception as e:
                logger.warning("%s: drain failed: %s: %s", role, type(e).__name__, e)
        for t in self._supervisors:
            t.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        try:
            await self.publish_metrics()
        except Exception:
            pass
        await self._close_roles()
        if self._lease_nc is not None and not self._lease_nc.is_closed:
            await self._lease_nc.close()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await self.nc.flush(timeout=5)
            except Exception as e:
                logger.warning("final flush failed: %s: %s", type(e).__name__, e)
            try:
                await self.nc.close()
            except OSError as e:  # the server went away during shutdown (a restart): nothing left to send it
                logger.warning("closing the NATS connection failed: %s: %s", type(e).__name__, e)
        if self.print_stats:
            self.print_stat_lines()

    async def start_unless_stopped(self, stop: asyncio.Event) -> bool:
        """Start, unless `stop` is set first (then close what was opened and return False).

        nats-py retries an unreachable server forever, so a stop must be able to interrupt start-up; StartupTimeout
        when start-up takes longer than `connect_timeout` seconds (None: wait forever)."""
        timeout = self.connect_timeout
        starting = asyncio.ensure_future(self.start())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({starting, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not starting.done():
                self.stopped = True  # the cancelled connection's close is not a disconnect to warn about
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
                await self._close_unstarted()
        if not starting.cancelled():
            starting.result()  # start-up errors (refused credentials, a role that cannot start) propagate
            return True
        if stop.is_set():
            return False
        raise StartupTimeout(f"cannot connect to NATS at {self.options.display()} within {timeout:g} s")

    async def _close_roles(self) -> None:
        for _, role in self.all_roles():
            try:
                await role.close()
            except Exception as e:
                logger.warning("%s: close failed: %s", role, e)

    async def _close_unstarted(self) -> None:
        await self._close_roles()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()

    async def run_until(self, stop: asyncio.Event, on_started: Callable[[], None] | None = None) -> bool:
        """Start, wait for `stop`, then drain; False when `stop` came before start-up finished (nothing ran)."""
        if not await self.start_unless_stopped(stop):
            return False
        if on_started:
            on_started()
        try:
            await stop.wait()
        finally:
            await self.shutdown()
        return True

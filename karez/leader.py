"""One active instance of a singleton role across hosts: a lease in a JetStream key-value bucket.

Dispatchers are timers and `ONE_WORKER` roles (windowed validation) must see every message, so each may run in
several `karez deploy --lease` processes on several hosts, but only one of them may be active. The instances
compete for the key `<kind>.<name>` of the bucket `KAREZ_LEASES`:

- the bucket has a TTL (`max_age`): an entry that is not rewritten within the TTL disappears, so a holder that dies
  or is partitioned away loses the lease without anyone having to notice;
- an instance takes the lease with `create` (succeeds only when the key does not exist) and keeps it with `update`
  checked against the revision it last wrote (compare-and-set), every quarter TTL; a check that fails means someone
  else holds it now;
- the holder stops its role before the server can expire the entry: it counts the TTL from the moment it *sent* the
  last successful write (the server stored it later), so two instances are never active at once, even when the
  holder cannot reach the server (a partition) and so cannot learn it lost;
- a standby polls every quarter TTL and so takes over within about 1.25 TTL of the holder's last renewal;
- a dispatcher confirms the lease (a renewal) before each round and writes the time of its next round to the
  bucket `KAREZ_LEASE_STATE` (no TTL): the instance that takes over continues on that grid, so a round is neither
  dispatched twice nor skipped for longer than the takeover. A `tiro_validate` that takes over starts a partial
  window, as at start-up (`resume_from`).

A role overrides `RoleBase.resume_from(state, lease)` (called after winning, before it runs, with the state its
predecessor left and the lease, whose `confirm(state)` also leaves state for a successor) and `abandon()` (called when
it loses the lease: drop scheduled work).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from karez import codec
from karez.buckets import open_bucket
from karez.cluster import stream_replicas

if TYPE_CHECKING:
    from karez.role import RoleBase

logger = logging.getLogger("karez")

LEASE_BUCKET = "KAREZ_LEASES"
STATE_BUCKET = "KAREZ_LEASE_STATE"
DEFAULT_LEASE_TTL = 5.0
MIN_LEASE_TTL = 1.0
DRAIN_TIMEOUT = 60.0  # a stopping holder keeps its lease this long at most while its role drains
SAFETY = 0.2  # of the TTL: a holder stops this early, against the server expiring the entry a little early


class LeaseError(ValueError):
    """Lease settings that cannot work (a TTL below one second)."""


def default_holder() -> str:
    """`host:pid:random`: tells instances apart in logs and in the bucket, even across restarts with the same pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class LeaseOptions:
    """Lease settings of one deploy process."""

    ttl: float = DEFAULT_LEASE_TTL
    holder: str = field(default_factory=default_holder)
    replicas: int | None = None  # of the two buckets; None: detected from the cluster

    def __post_init__(self) -> None:
        if self.ttl < MIN_LEASE_TTL:
            raise LeaseError(f"lease TTL must be at least {MIN_LEASE_TTL:g} s, got {self.ttl:g}")


def lease_key(kind: str, name: str) -> str:
    """The bucket key of a role (characters a key cannot hold become `_`)."""
    return re.sub(r"[^-/_=.a-zA-Z0-9]", "_", f"{kind}.{name}")


def is_singleton(kind: str, role: RoleBase) -> bool:
    """Whether a role must be active in one process only: dispatchers and `ONE_WORKER` roles."""
    return kind == "dispatcher" or role.ONE_WORKER


async def open_buckets(nc: Client, options: LeaseOptions) -> tuple[KeyValue, KeyValue]:
    """The lease bucket (TTL = `options.ttl`) and the state bucket, created when missing."""
    js = nc.jetstream()
    replicas = stream_replicas(nc, options.replicas)
    try:
        lease, status = await open_bucket(
            js, KeyValueConfig(bucket=LEASE_BUCKET, history=1, ttl=options.ttl, replicas=replicas)
        )
        state, _ = await open_bucket(js, KeyValueConfig(bucket=STATE_BUCKET, history=1, replicas=replicas))
    except Exception as e:  # a server without JetStream (or an account without it) cannot hold leases
        raise LeaseError(f"leases need JetStream: cannot open bucket {LEASE_BUCKET}: {type(e).__name__}: {e}") from e
    if status.ttl and abs(status.ttl - options.ttl) > 1e-3:
        # every instance must count the same TTL: an entry that expires sooner than its holder thinks breaks exclusion
        raise LeaseError(
            f"bucket {LEASE_BUCKET} has a TTL of {status.ttl:g} s, not {options.ttl:g} s: use --lease-ttl "
            f"{status.ttl:g} on every host (or delete the bucket while nothing runs)"
        )
    return lease, state


class Lease:
    """One role's lease: acquire, renew (compare-and-set), release; `valid()` says whether it may act now."""

    def __init__(self, kv: KeyValue, state_kv: KeyValue, key: str, holder: str, ttl: float) -> None:
        self.kv, self.state_kv, self.key, self.holder, self.ttl = kv, state_kv, key, holder, ttl
        self.revision: int | None = None
        self._valid_until = 0.0  # monotonic
        self.lost = asyncio.Event()
        self.acquired_at: float | None = None  # wall clock of the last takeover, for logs and tests

    def valid(self) -> bool:
        """Held, and certainly not yet expired on the server."""
        return self.revision is not None and time.monotonic() < self._valid_until

    def _value(self) -> bytes:
        return codec.dumps({"holder": self.holder, "at": time.time()})

    async def _write(self, create: bool) -> bool:
        """One acquire or renewal; True when it succeeded (the lease is then valid for a TTL from the send time)."""
        sent = time.monotonic()
        timeout = self.ttl / 4
        try:
            if create:
                revision = await asyncio.wait_for(self.kv.create(self.key, self._value()), timeout)
            else:
                revision = await asyncio.wait_for(self.kv.update(self.key, self._value(), last=self.revision), timeout)
        except KeyWrongLastSequenceError:
            if await self._adopt():  # our own write whose answer was lost: the entry is ours
                return False  # validity still counts from an earlier send; the next renewal extends it
            if not create:
                self._lose("another instance holds it now")
            return False
        except Exception as e:  # unreachable server, no stream leader during an election: try again later
            logger.debug("lease %s: %s failed: %s: %s", self.key, "create" if create else "renew", type(e).__name__, e)
            if not create and not self.valid():
                self._lose(f"not renewed within its TTL ({type(e).__name__})")
            return False
        self.revision = revision
        self._valid_until = sent + self.ttl * (1 - SAFETY)
        return True

    async def _adopt(self) -> bool:
        """Whether the stored entry is this holder's (a write that succeeded but whose answer was lost); adopt it."""
        try:
            entry = await asyncio.wait_for(self.kv.get(self.key), self.ttl / 4)
            holder = codec.loads(entry.value).get("holder") if entry.value else None
        except Exception:
            return False
        if holder != self.holder:
            return False
        self.revision = entry.revision
        return True

    def _lose(self, why: str) -> None:
        if self.revision is not None:
            logger.warning("Lease %s lost by %s: %s.", self.key, self.holder, why)
        self.revision = None
        self.lost.set()

    async def acquire(self) -> None:
        """Wait until this instance holds the lease (polling every quarter TTL)."""
        waiting_logged = False
        while not await self._write(create=self.revision is None):  # update: an entry of ours was adopted
            if not waiting_logged:
                logger.warning("Lease %s held elsewhere; %s is on standby.", self.key, self.holder)
                waiting_logged = True
            await asyncio.sleep(self.ttl / 4)
        self.lost.clear()
        self.acquired_at = time.time()
        logger.warning("Lease %s taken by %s.", self.key, self.holder)

    async def renew(self) -> bool:
        """Renew now; False when the lease is no longer valid (lost, or expired before a renewal succeeded)."""
        if self.revision is None:
            return False
        await self._write(create=False)
        if not self.valid():
            self._lose("expired before a renewal succeeded")
        return self.valid()

    async def hold(self) -> None:
        """Renew every quarter TTL; return when the lease is lost."""
        while self.revision is not None:
            await asyncio.sleep(min(self.ttl / 4, max(0.0, self._valid_until - time.monotonic())))
            await self.renew()

    async def release(self) -> None:
        """Give the lease up (a delete checked against our revision), so a standby takes over without the TTL."""
        revision, self.revision = self.revision, None
        if revision is None:
            return
        try:
            await asyncio.wait_for(self.kv.delete(self.key, last=revision), self.ttl / 2)
            logger.warning("Lease %s released by %s.", self.key, self.holder)
        except Exception as e:  # it then expires after its TTL
            logger.warning("Lease %s not released (%s: %s); it expires by itself.", self.key, type(e).__name__, e)

    async def read_state(self) -> dict[str, Any] | None:
        """What the previous holder left (None when nothing, or unreadable after three tries)."""
        for attempt in range(3):  # without it a dispatcher starts at once and may repeat its predecessor's round
            try:
                entry = await asyncio.wait_for(self.state_kv.get(self.key), self.ttl)
                value = codec.loads(entry.value) if entry.value else None
                return value if isinstance(value, dict) else None
            except KeyNotFoundError:
                return None
            except Exception as e:
                if attempt == 2:
                    logger.warning("Lease %s: cannot read the state: %s: %s", self.key, type(e).__name__, e)
        return None

    async def write_state(self, state: dict[str, Any]) -> None:
        """Leave `state` for a successor (best effort: a successor without it starts at once)."""
        try:
            await asyncio.wait_for(self.state_kv.put(self.key, codec.dumps(state)), self.ttl / 4)
        except Exception as e:
            logger.warning("Lease %s: cannot store the state: %s: %s", self.key, type(e).__name__, e)

    async def confirm(self, state: dict[str, Any] | None) -> bool:
        """Before a round: renew (proving we still hold the lease), then leave `state`; False: do not act."""
        if not await self.renew():
            return False
        if state is not None:
            await self.write_state(state)
        return self.valid()


async def lead(role: RoleBase, lease: Lease, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `run()` only while holding the lease: standby until it is won, step down when it is lost, forever.

    Returns when `run()` returns. A cancellation (a graceful stop) keeps renewing the lease while the role drains
    (a dispatcher's delayed batches of the current round still go out), then releases it for a standby to take at
    once."""
    holding: asyncio.Task[None] | None = None
    try:
        while True:
            await lease.acquire()
            previous = await lease.read_state()
            role.resume_from(previous, lease)
            active = asyncio.create_task(run(), name=f"lead:{lease.key}")
            holding = asyncio.create_task(lease.hold(), name=f"hold:{lease.key}")
            try:
                done, _ = await asyncio.wait({active, holding}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not active.done():
                    active.cancel()
                await asyncio.gather(active, return_exceptions=True)
            if active in done and not active.cancelled():
                active.result()  # a crash propagates to the supervisor, which restarts (and re-elects)
                return
            holding.cancel()
            await asyncio.gather(holding, return_exceptions=True)
            await step_down(role)
    except asyncio.CancelledError:
        if holding is not None and not holding.done() and lease.valid():
            await _drain_holding(role)
        raise
    finally:
        if holding is not None:
            holding.cancel()
            await asyncio.gather(holding, return_exceptions=True)
        await lease.release()


async def _drain_holding(role: RoleBase) -> None:
    """A graceful stop of the active instance: let the role finish (the lease is still renewed meanwhile)."""
    try:
        await asyncio.wait_for(role.drain(), timeout=DRAIN_TIMEOUT)
    except Exception as e:
        logger.warning("%s: drain before releasing the lease failed: %s: %s", role, type(e).__name__, e)


async def step_down(role: RoleBase) -> None:
    """Stop acting after the lease was lost: drop scheduled work, stop receiving."""
    role.abandon()
    try:
        await role.delivery.stop(role)
    except Exception as e:
        logger.warning("%s: stopping after losing the lease failed: %s: %s", role, type(e).__name__, e)


__all__ = [
    "DEFAULT_LEASE_TTL",
    "LEASE_BUCKET",
    "STATE_BUCKET",
    "Lease",
    "LeaseError",
    "LeaseOptions",
    "default_holder",
    "is_singleton",
    "lead",
    "lease_key",
    "open_buckets",
    "step_down",
]

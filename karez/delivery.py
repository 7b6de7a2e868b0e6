"""How a role receives and publishes: core NATS (this module) or JetStream (`karez.durable`), chosen before it starts.

A role holds one `Delivery` and asks it, not flags, how to run; a plugin that must know (a write that has to be done
before the acknowledgement, an error that has to reach the consumer) reads `role.delivery.redelivers`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from karez.role import RoleBase

DRAIN_TIMEOUT = 30.0


class Delivery:
    """Core NATS: a queue-group subscription, plain publishes, at-most-once (a failure is counted, the item dropped)."""

    redelivers = False
    """True when a consumed message is acknowledged only after its outputs are stored, and redelivered on failure:
    failures must then be raised to the consumer instead of being counted and dropped."""

    stores_publishes = False
    """True when publishes go through JetStream, with a `Nats-Msg-Id` and a wait for the stream's acknowledgement."""

    async def start(self, role: RoleBase) -> None:
        """Begin receiving the role's subject (for roles that listen)."""
        await role.subscribe()
        await role.connection.flush()

    async def stop(self, role: RoleBase) -> None:
        """Stop receiving and finish what was received."""
        if role.sub is None:
            return
        await role.flush()
        try:
            await asyncio.wait_for(role.sub.drain(), timeout=DRAIN_TIMEOUT)  # type: ignore[no-untyped-call]  # nats-py leaves it unannotated
        except Exception as e:  # already closed
            role.log("debug", f"drain: {e}")
        pending = getattr(role.sub, "_wait_for_msgs_task", None)
        if pending is not None and not pending.done():
            await asyncio.wait([pending], timeout=DRAIN_TIMEOUT)
        role.sub = None


class JetStreamPublishing(Delivery):
    """A role that only publishes (a dispatcher) in durable mode: every publish is stored by JetStream, deduplicated."""

    stores_publishes = True

    async def start(self, role: RoleBase) -> None:
        """Nothing to receive."""

    async def stop(self, role: RoleBase) -> None:
        """Nothing to drain."""


CORE = Delivery()
"""The delivery of every role until the runtime chooses another (it holds no state, so roles share it)."""


def delivery_for(listens: bool, durable: bool, replicas: int | None = None) -> Delivery:
    """The delivery of a role: JetStream consumer (creating its streams with `replicas`, None: detected) or publisher
    in durable mode, else core NATS."""
    if not durable:
        return CORE
    if not listens:
        return JetStreamPublishing()
    from karez.durable import DurableLink  # JetStream imports only for durable roles

    return DurableLink(replicas=replicas)

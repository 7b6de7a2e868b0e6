"""Run roles in-process without NATS (for `karez test` / `karez collect`), with the runtime's routing and meta merge."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from karez import codec
from karez.role import RoleBase
from karez.subjects import converter_name

Output = tuple[str, Any]
HopCallback = Callable[[RoleBase, list[Output]], None]
MAX_HOPS = 64


def wire_copy(item: Any) -> Any:
    """What a receiver would decode: each hop gets its own copy, as over NATS."""
    if isinstance(item, dict) and "_as_is" not in item:
        return codec.loads(codec.dumps(item))
    return copy.deepcopy(item)


async def dispatch(dispatcher: RoleBase) -> list[dict[str, Any]]:
    """Task messages of one round."""
    return list(await dispatcher.process(None))


async def run_role(role: RoleBase, inputs: list[Any]) -> list[Output]:
    """Outputs of a connector (task messages in) or converter (items in), routed like the runtime."""
    return await role.handle_items([wire_copy(i) for i in inputs], f"offline.{role.name}")


async def follow(outputs: list[Output], converters: dict[str, RoleBase], on_hop: HopCallback | None) -> list[Output]:
    """Feed outputs addressed to known converters onward until only aggregator-bound outputs remain."""
    final: list[Output] = []
    frontier = outputs
    for _ in range(MAX_HOPS):
        if not frontier:
            break
        next_frontier: list[Output] = []
        for subject, item in frontier:
            name = converter_name(subject)
            role = converters.get(name) if name else None
            if role is None:
                final.append((subject, item))
                continue
            produced = await run_role(role, [item])
            if on_hop:
                on_hop(role, produced)
            next_frontier.extend(produced)
        frontier = next_frontier
    else:
        final.extend(frontier)
    return final


def display_payload(payload: Any) -> Any:
    """What goes on the wire, for display: the raw `_as_is` value or the item."""
    if isinstance(payload, dict) and "_as_is" in payload:
        return payload["_as_is"]
    return payload

"""Per-role counters: received, published, errors, dropped."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class RoleStats:
    """Counters of one role instance; `dropped` counts inputs discarded without processing (bad JSON/shape)."""

    received: int = 0
    published: int = 0
    errors: int = 0
    dropped: int = 0
    restarts: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain dict for JSON output."""
        return asdict(self)

"""Helpers of the fuzz tests: common hypothesis settings, a per-boundary tally, examples drawn for async tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy

# Deterministic and modest: the whole fuzz folder must stay fast and never flaky.
FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Tally:
    """Cases tried at one boundary and how each one ended."""

    boundary: str
    tried: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        """Record one tried case that ended with `outcome` (e.g. "ok", "InputError", "413")."""
        self.tried += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def line(self) -> str:
        """The one-line summary shown with `pytest -s`."""
        parts = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return f"[fuzz] {self.boundary}: {self.tried} cases, 0 crashes ({parts})"


def draw_cases(strategy: SearchStrategy[Any], max_examples: int = 150) -> list[Any]:
    """Deterministic examples of `strategy`, for async boundaries that one event loop must drive."""
    cases: list[Any] = []

    @settings(FUZZ, max_examples=max_examples)
    @given(strategy)
    def collect(case: Any) -> None:
        cases.append(case)

    collect()
    return cases

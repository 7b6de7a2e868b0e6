"""Helpers of the fuzz tests: common hypothesis settings, a per-boundary tally, examples drawn for async tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
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
class Outcome:
    """How a test ended, as pytest reported its phases: failures of its body and errors of its fixtures."""

    failures: int = 0
    errors: int = 0
    first_problem: str = ""

    def record(self, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None) -> None:
        """Count one phase's report: a failed call is one failure per distinct exception, a failed fixture an error."""
        if not report.failed:
            return
        error = excinfo.value if excinfo is not None else None
        if report.when == "call":
            # hypothesis raises one exception group when it found several distinct failing examples
            self.failures += len(error.exceptions) if isinstance(error, BaseExceptionGroup) else 1
        else:
            self.errors += 1
        if not self.first_problem:
            text = f"{type(error).__name__}: {error}" if error is not None else str(report.longrepr)
            self.first_problem = " ".join(text.split())

    def summary(self) -> str:
        """`passed` or `FAILED` with the counts (and the first problem), on one line."""
        counts = f"(failures={self.failures}, errors={self.errors})"
        if not self.failures and not self.errors:
            return f"passed {counts}"
        return f"FAILED {counts}: {self.first_problem}"


OUTCOME = pytest.StashKey[Outcome]()


def record_outcome(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Add one phase's report to the Outcome stashed on the test item (for the tally printed at teardown)."""
    item.stash.setdefault(OUTCOME, Outcome()).record(report, call.excinfo)


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

    def line(self, test: Outcome) -> str:
        """The one-line summary shown with `pytest -s`: cases tried, how they ended and how the test ended."""
        parts = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return f"[fuzz] {self.boundary}: {self.tried} cases ({parts}); test {test.summary()}"


def draw_cases(strategy: SearchStrategy[Any], max_examples: int = 150) -> list[Any]:
    """Deterministic examples of `strategy`, for async boundaries that one event loop must drive."""
    cases: list[Any] = []

    @settings(FUZZ, max_examples=max_examples)
    @given(strategy)
    def collect(case: Any) -> None:
        cases.append(case)

    collect()
    return cases

"""Fixtures of the fuzz tests: a per-boundary tally printed as one line when a test ends (`pytest -s` shows it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz_support import OUTCOME, Outcome, Tally, record_outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep how each phase of a test ended, so its tally line says whether the test passed."""
    report = yield
    record_outcome(item, call, report)
    return report


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """A Tally named after the test, printed as one line when the test ends."""
    t = Tally(request.node.name.removeprefix("test_"))
    yield t
    print("\n" + t.line(request.node.stash.get(OUTCOME, Outcome())))

"""Fixtures of the fuzz tests: a per-boundary tally printed as one line when a test ends (`pytest -s` shows it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz_support import Tally


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """A Tally named after the test, printed as one line when the test ends."""
    t = Tally(request.node.name.removeprefix("test_"))
    yield t
    print("\n" + t.line())

"""The event loop of `karez deploy` (karez.event_loop): uvloop where installed, asyncio's own on request."""

from __future__ import annotations

import asyncio

import pytest

from karez.event_loop import LOOP_ENV, event_loop_factory


def test_roles_run_on_uvloop_where_it_is_installed(monkeypatch):
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.delenv(LOOP_ENV, raising=False)
    assert event_loop_factory() is uvloop.new_event_loop
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)


@pytest.mark.parametrize("value", ["asyncio", " AsyncIO "])
def test_the_environment_can_ask_for_asyncios_own_loop(monkeypatch, value):
    monkeypatch.setenv(LOOP_ENV, value)
    assert event_loop_factory() is None

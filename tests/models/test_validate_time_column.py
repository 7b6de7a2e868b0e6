"""The timestamp column kernel: never calls a bad timestamp good, and validation reports the same with or without it."""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import make_model, ranged

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.validate import validate
from tiro_models.validation import walk
from tiro_models.validation.checks import parse_time
from tiro_models.validation.time_column import all_times_good

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WINDOW = (NOW.timestamp() - 10, NOW.timestamp())


def _stamps(n: int, seed: int = 1, naive: bool = False, epoch: str = "") -> list:
    """n distinct stamps in the 10 s before NOW, as a device samples them: ISO text, or epoch "s" or "ms"."""
    rand = random.Random(seed).random
    moments = [NOW - timedelta(seconds=rand() * 9.9) for _ in range(n)]
    if epoch == "s":
        return [m.timestamp() for m in moments]
    if epoch == "ms":
        return [round(m.timestamp() * 1000) for m in moments]
    return [(m.replace(tzinfo=None) if naive else m).isoformat() for m in moments]


def _certainly_good(stamps: list, floor: float | None, window: tuple[float, float] | None) -> bool:
    """The per-value rule of Run.time_failure, value by value."""
    for ts in stamps:
        moment = parse_time(ts)
        if moment is None or (floor is not None and moment < floor):
            return False
        if window is not None and not window[0] <= moment < window[1]:
            return False
    return True


def test_distinct_device_stamps_are_good_in_one_pass() -> None:
    stamps = _stamps(500)
    assert all_times_good(stamps, None, None)
    assert all_times_good(stamps, WINDOW[0], WINDOW)
    assert all_times_good(_stamps(500, naive=True), WINDOW[0], WINDOW)  # naive means UTC, as in parse_time
    assert all_times_good(_stamps(500, epoch="s"), WINDOW[0], WINDOW)
    assert all_times_good(_stamps(500, epoch="ms"), WINDOW[0], WINDOW)  # milliseconds, as parse_time reads them


@pytest.mark.parametrize(
    "odd",
    [
        "not a time",
        "",
        "2024-05-01T24:00:00",  # only dateutil reads it: the per-value path decides
        1714564795.5,  # epoch numbers go the per-value path
        None,
        "2024-05-01T11:59:40+00:00",  # older than the floor and before the window
        "2024-05-01T12:00:00+00:00",  # the window's end is exclusive
        "2024-05-01T13:59:55+02:00",  # inside the window, written in another zone
        "2024-05-01T11:59:55",  # naive among aware ones
    ],
)
@pytest.mark.parametrize("epoch", ["", "s", "ms"])
def test_the_kernel_never_calls_a_bad_column_good(odd, epoch) -> None:
    stamps = _stamps(50, epoch=epoch)
    stamps[25] = odd
    for floor, window in [(None, None), (WINDOW[0], None), (None, WINDOW), (WINDOW[0], WINDOW)]:
        if all_times_good(stamps, floor, window):
            assert _certainly_good(stamps, floor, window), (odd, floor, window)


@pytest.mark.parametrize(
    "odd",
    [
        float("nan"),
        float("inf"),
        True,
        10**30,
        1714564790,  # stale and before the window, in seconds
        1714564790_000,  # the same in milliseconds
        1714564795.5,  # seconds among milliseconds: good, but the per-value path converts each
        1714564795_500,  # milliseconds among seconds
        "2024-05-01T11:59:55+00:00",
    ],
)
@pytest.mark.parametrize("epoch", ["s", "ms"])
def test_the_kernel_never_calls_a_bad_epoch_column_good(odd, epoch) -> None:
    stamps = _stamps(50, epoch=epoch)
    stamps[25] = odd
    for floor, window in [(None, None), (WINDOW[0], None), (None, WINDOW), (WINDOW[0], WINDOW)]:
        if all_times_good(stamps, floor, window):
            assert _certainly_good(stamps, floor, window), (odd, floor, window)


def _model():
    return make_model(
        {"Hall": {"children": {"Rack": {"number": (40, 40), "points": {"Power": ranged(), "Heat": ranged()}}}}}
    )


def _results(model, snapshot, monkeypatch) -> list[tuple]:
    """Results of several modes, with the kernel and with it switched off (the per-value path only)."""
    modes = [
        {},
        {"strict": True, "now": NOW, "max_age": 8},
        {"strict": True, "now": NOW, "window": (NOW - timedelta(seconds=5), NOW)},
    ]

    def run() -> list[tuple]:
        out = []
        for mode in modes:
            result = validate(model, snapshot, **mode)
            out.append((result.counts, [(e.path, e.type, e.msg, e.loc) for e in result.errors]))
        return out

    with_kernel = run()
    monkeypatch.setattr(walk, "all_times_good", lambda stamps, floor, window: False)
    return [with_kernel, run()]


@pytest.mark.parametrize(
    "odd",
    [
        None,
        "garbage",
        "2024-05-01T24:00:00",
        1714564795.5,
        "2024-05-01T11:59:55",
        "2024-05-01T12:00:00Z",
        float("nan"),
        True,
        1714564790_000,
    ],
)
@pytest.mark.parametrize("epoch", ["", "s", "ms"])
def test_validation_reports_the_same_with_and_without_the_kernel(odd, epoch, monkeypatch) -> None:
    model = _model()
    snapshot = Mocker(instantiate(model, seed=1), seed=1).snapshot(now=NOW)
    racks = snapshot["Hall"]["hall_0"]["Rack"]
    for rack, ts in zip(racks.values(), _stamps(len(racks), epoch=epoch), strict=True):
        rack["Telemetry"]["Power"]["timestamp"] = ts
        rack["Telemetry"]["Heat"]["timestamp"] = ts
    odd_rack = list(racks)[17]
    if odd is not None:
        racks[odd_rack]["Telemetry"]["Power"]["timestamp"] = odd
    with_kernel, without = _results(model, snapshot, monkeypatch)
    assert with_kernel == without
    lenient_errors = [(path, kind) for path, kind, _msg, _loc in with_kernel[0][1]]
    if odd == "garbage":
        assert lenient_errors == [(f"Hall.hall_0.Rack.{odd_rack}.Telemetry.Power", "value_error.datetime")]
    elif odd is None:
        assert lenient_errors == []


def test_a_column_of_device_stamps_goes_through_the_kernel(monkeypatch) -> None:
    model = _model()
    snapshot = Mocker(instantiate(model, seed=1), seed=1).snapshot(now=NOW)
    racks = snapshot["Hall"]["hall_0"]["Rack"]
    for rack, ts in zip(racks.values(), _stamps(len(racks)), strict=True):
        rack["Telemetry"]["Power"]["timestamp"] = ts
    calls: list[int] = []

    def counting(stamps, floor, window):
        calls.append(len(stamps))
        return all_times_good(stamps, floor, window)

    monkeypatch.setattr(walk, "all_times_good", counting)
    assert validate(model, snapshot).valid
    assert calls == [40]  # the Power column; Heat shares one timestamp and goes through the memo
    for rack, ts in zip(racks.values(), _stamps(len(racks), epoch="ms"), strict=True):
        rack["Telemetry"]["Heat"]["timestamp"] = ts
    assert validate(model, snapshot).valid
    assert calls == [40, 40, 40]  # and epoch numbers too

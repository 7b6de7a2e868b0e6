"""Event-time windows: a sample counts in the window of its own timestamp; a window waits an allowed lateness for
data in flight; later data is counted as late and revises the verdict, never reported as missing. The aggregator
and the retained-window read (the Prefect flow's) give the same verdict for the same data."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import nats
import pytest

from tiro.examples import example_dir, example_files
from tiro.plugins.karez import ValidationAggregator
from tiro.retention import ensure_retention_stream, read_window
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.validate import validate
from tiro_models.validation.event_time import LatenessEstimate, WindowRule, parse_lateness

SCENARIO, USES = example_files(example_dir("datahall"))


@pytest.mark.parametrize(
    ("event", "arrival", "expected"),
    [
        (105.0, 106.0, (100.0, False)),  # on time
        (105.0, 112.9, (100.0, False)),  # after the window's end, within the lateness (deadline 113)
        (105.0, 113.0, (100.0, True)),  # after the deadline: late for its window
        (105.0, 122.9, (100.0, True)),  # still late until one more window has passed
        (105.0, 123.0, (120.0, False)),  # older than that: a stale value, counted where it arrived
        (None, 106.0, (100.0, False)),  # no timestamp: by arrival
        (125.0, 106.0, (100.0, False)),  # stamped a whole window ahead of its arrival (clock skew): by arrival
        (112.0, 106.0, (110.0, False)),  # slightly ahead: its own window
    ],
)
def test_window_rule(event, arrival, expected):
    assert WindowRule(retention=10.0, lateness=3.0).assign(event, arrival) == expected


def test_a_sample_stamped_just_before_a_window_counts_in_it_too():
    """A point polled once a window jitters across the boundary: the sample at 9.8 s also stands for window [10, 20)."""
    rule = WindowRule(retention=10.0, lateness=3.0)
    assert rule.carried(9.8, 0.0) and rule.carried(7.5, 0.0) and not rule.carried(7.4, 0.0)  # min(3, 10/4) = 2.5 s
    assert rule.counts_in(10.0, 9.8, 10.5) == (True, False)
    assert rule.counts_in(10.0, 5.0, 10.5) == (False, False)
    assert rule.counts_in(10.0, 9.8, 22.0) == (True, False)  # late for [0, 10), still on time for [10, 20)
    assert rule.counts_in(20.0, 9.8, 23.5) == (True, False)  # too old for either: a stale value, where it arrived
    assert rule.counts_in(0.0, 9.8, 10.5) == (True, False)


def test_window_rule_with_an_origin():
    rule = WindowRule(retention=10.0, lateness=3.0, origin=4.0)
    assert rule.window_of(13.9) == 4.0 and rule.assign(14.5, 15.0) == (14.0, False)


def test_auto_lateness_is_twice_the_p99_age_within_bounds():
    estimate = LatenessEstimate(retention=10.0)
    assert estimate.value() == 1.0  # nothing observed yet: the minimum
    for i in range(1000):
        estimate.observe(0.001 * i)  # ages 0–1 s
    assert estimate.value() == pytest.approx(2 * 0.989, abs=0.01)
    estimate.observe(5000.0)  # a stale value says nothing of the pipeline
    assert estimate.value() == pytest.approx(2 * 0.989, abs=0.01)
    for _ in range(100):
        estimate.observe(9.0)
    assert estimate.value() == 10.0  # capped at one window
    many = LatenessEstimate(retention=10.0)
    many.observe_many([0.001 * i for i in range(1000)])
    assert many.value() == pytest.approx(2 * 0.989, abs=0.01)
    many.observe_many([3.0] * 50)  # the estimate follows every change, not the first one it computed
    assert many.value() == 6.0
    assert LatenessEstimate(10.0, fixed=0.0).value() == 0.0
    assert parse_lateness("auto") is None and parse_lateness("2.5") == 2.5
    with pytest.raises(ValueError, match="allowed lateness"):
        parse_lateness("-1")


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.time()))


async def _until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _stamped(flat: dict, moment: float) -> list[dict]:
    stamp = datetime.fromtimestamp(moment, UTC).isoformat()
    return [{"path": p, "result": {**dp, "timestamp": stamp}, "_karez": {"category": "validation_data"}}
            for p, dp in flat.items()]  # fmt: skip


async def test_late_data_is_waited_for_then_counted_late_never_missing(nats_server, tmp_path):
    """Window A: half its data arrives after A's end but within the lateness: complete at once. Window B: half
    arrives after B's deadline: B is judged with it missing, then revised as complete with those samples late. The
    retained-window read gives the same verdicts for the same data."""
    retention, lateness = 2.0, 1.5
    log = tmp_path / "validation.log"
    role = ValidationAggregator(
        {"type": "tiro_validate", "category": "validation_data", "scenario": str(SCENARIO),
         "uses": ",".join(map(str, USES)), "retention": retention, "allowed_lateness": lateness,
         "log_file": str(log)},
        nats_addr=nats_server.url,
    )  # fmt: skip
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await ensure_retention_stream(js, 600)
    task = asyncio.create_task(role.run())
    flat = Mocker(instantiate(load_model(SCENARIO, USES), seed=5), seed=5).flat()
    paths = list(flat)
    first, second = {p: flat[p] for p in paths[::2]}, {p: flat[p] for p in paths[1::2]}

    async def publish(items: list[dict]) -> None:
        await js.publish("karez.validation_data.late", json.dumps(items).encode())

    try:
        await _until(lambda: role.reports, "the first (partial) window to be judged")
        a = role.windows.start  # the window now open
        b = a + retention
        await _sleep_until(a + 0.2)
        await publish(_stamped(first, a + 0.1))
        await _sleep_until(a + retention + 0.5)  # A has ended; its deadline is 1.5 s away
        await publish(_stamped(second, a + 1.0))
        await publish(_stamped(first, b + 0.6))  # B's first half, on time
        await _sleep_until(b + retention + lateness + 0.3)  # B's deadline has passed
        await publish(_stamped(second, b + 1.0))
        await _until(lambda: any(r.revised for r in role.reports), "B's revised verdict", timeout=30)
    finally:
        task.cancel()
        await role.close()
    reports = {(r.result.start.timestamp(), r.revised): r for r in role.reports}
    on_time = reports[(a, False)]
    assert on_time.result.valid and on_time.result.counts["missing"] == 0 and on_time.late == 0
    judged, revised = reports[(b, False)], reports[(b, True)]
    assert not judged.result.valid and judged.result.counts["missing"] > 0 and judged.late == 0
    assert revised.result.valid and revised.result.counts["missing"] == 0 and revised.late == len(second)
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(w["revised"] and w["late"] == len(second) and w["valid"] for w in logged)

    # The retained-window read of the same data: A complete and on time; B complete, with the same late count.
    window_a = await read_window(js, _utc(a), _utc(b), lateness=lateness)
    window_b = await read_window(js, _utc(b), _utc(b + retention), lateness=lateness)
    await client.close()
    model = load_model(SCENARIO, USES)
    for window, report in ((window_a, on_time), (window_b, revised)):
        result = validate(model, window.snapshot, now=window.end, window=(window.start, window.end))
        assert result.counts == report.result.counts and result.valid == report.result.valid
        assert window.late == report.late
    assert window_a.allowed_lateness == lateness


def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)

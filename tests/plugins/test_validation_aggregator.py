"""The tiro_validate aggregator: aligned windows, partial first window, empty windows, schema mode, log file."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from datetime import UTC, datetime

import nats
import pytest

from tiro.examples import example_dir, example_files
from tiro.plugins.karez import ValidationAggregator
from tiro.plugins.karez.windows import WindowedValidator, model_check, window_start
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.schema import json_schema


def _model():
    return load_model(*example_files(example_dir("datahall")))


def test_windows_align_to_multiples_of_the_retention():
    assert window_start(1000.5, 10) == 1000
    assert window_start(1009.99, 10) == 1000
    assert window_start(1010.0, 10) == 1010


def test_first_window_is_partial_and_ignores_missing_points_then_full_windows_do_not():
    model = _model()
    windows = WindowedValidator(model_check(model), 10, started_at=1005.0)
    assert (windows.start, windows.end, windows.partial) == (1000.0, 1010.0, True)
    first = windows.close()
    assert first.partial and first.result.valid and first.collected == 0
    assert windows.start == 1010.0 and not windows.partial
    empty = windows.close()  # no data arrived: reported, as all missing
    assert not empty.result.valid
    assert empty.result.counts["received"] == 0 and empty.result.completeness == 0
    assert windows.start == 1020.0


def test_closing_a_window_pauses_the_garbage_collector_and_always_restarts_it():
    seen = []

    def check(flat, start, end):
        seen.append(gc.isenabled())
        raise RuntimeError("broken check")

    windows = WindowedValidator(check, 10, started_at=1000.0)
    with pytest.raises(RuntimeError, match="broken check"):
        windows.close()
    assert seen == [False] and gc.isenabled()


def test_full_window_of_mock_data_is_valid():
    model = _model()
    windows = WindowedValidator(model_check(model), 60, started_at=600.0)  # starts exactly on a boundary
    assert not windows.partial
    flat = Mocker(instantiate(model, seed=1), seed=1).flat()
    for path, dp in flat.items():
        windows.collect(path, dp, arrival=630.0)  # today's timestamps are far ahead of 1970: counted by arrival
    report = windows.close()
    body = report.to_dict()
    assert body["valid"] is True and body["exception"] is None
    assert body["collection_size"] == len(flat) and body["completeness"] == 1


async def _until(condition, what: str, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_aggregator_over_nats_validates_on_a_timer_and_logs(nats_server, tmp_path):
    scenario, uses = example_files(example_dir("datahall"))
    log = tmp_path / "validation.log"
    role = ValidationAggregator(
        {
            "type": "tiro_validate",
            "category": "validation_data",
            "scenario": str(scenario),
            "uses": ",".join(map(str, uses)),
            "retention": 1,
            "log_file": str(log),
        },
        nats_addr=nats_server.url,
    )
    task = asyncio.create_task(role.run())
    client = await nats.connect(nats_server.url)
    try:
        flat = Mocker(instantiate(_model(), seed=3), seed=3).flat()
        # Wait for the first (partial) window to close, then send a full window's worth of points.
        await _until(lambda: role.reports, "the first window to close")
        for path, dp in flat.items():
            item = {"path": path, "result": dp, "_karez": {"category": "validation_data"}}
            await client.publish("karez.validation_data.test", json.dumps(item).encode())
        await client.flush()
        # A window with the data (its last quarter also stands for the next window), then one with none.
        await _until(lambda: len(role.reports) >= 4, "a window with the data, then one with none")
    finally:
        task.cancel()
        await client.close()
        await role.close()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["partial"] is True
    with_data = [w for w in lines[1:] if w["collection_size"]]
    assert with_data and all(w["valid"] for w in with_data)
    assert any(w["collection_size"] == 0 and w["valid"] is False for w in lines[1:])


async def test_aggregator_schema_mode_reports_every_error(tmp_path):
    model = _model()
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(json_schema(model)))
    role = ValidationAggregator(
        {"type": "tiro_validate", "category": "validation_data", "Schema": str(schema_file), "retention": 60},
        nats_addr=None,
    )
    flat = Mocker(instantiate(model, seed=2), seed=2).flat()
    bad = [p for p in flat if p.endswith("Telemetry.ActivePower")]
    for path, dp in flat.items():
        role.process({"path": path, "result": {**dp, "value": "broken"} if path in bad else dp})
    role.windows.partial = False
    report = role.windows.close()
    assert not report.result.valid
    assert len(report.result.errors) >= len(bad) > 1  # upstream stopped at the first error


async def test_aggregator_batch_collects_good_items_and_drops_odd_ones_one_by_one(monkeypatch):
    scenario, uses = example_files(example_dir("datahall"))
    role = ValidationAggregator(
        {"type": "tiro_validate", "category": "validation_data", "scenario": str(scenario),
         "uses": ",".join(map(str, uses)), "retention": 60},
        nats_addr=None,
    )  # fmt: skip
    flat = Mocker(instantiate(_model(), seed=4), seed=4).flat()
    odd = ["text", {"path": 3, "result": 1}, {"result": 1}, {"path": "DataHall.data_hall_0", "result": 5}]
    for window in range(2):  # the second window collects paths the collector already knows
        # Each window's samples are stamped inside it and arrive a second later (windows are filled by event time).
        stamp = datetime.fromtimestamp(role.windows.start + 1, UTC).isoformat()
        items = [{"path": path, "result": {**dp, "timestamp": stamp}} for path, dp in flat.items()]
        monkeypatch.setattr(time, "time", lambda start=role.windows.start: start + 2)
        outputs = await role.handle_items(items[:10] + odd + items[10:], "karez.validation_data.x")
        assert outputs == []
        assert role.stats.dropped == 3 * (window + 1)  # not an object, non-string path, no path
        assert role.stats.errors == window + 1  # a non-object under an asset path: logged, the rest collected
        role.windows.partial = False
        report = role.windows.close()
        assert report.collected == len(flat) and report.result.valid


def _role(tmp_path, **extra):
    config = {"type": "tiro_validate", "category": "validation_data", "retention": 10,
              "log_file": str(tmp_path / "validation.log"), **extra}  # fmt: skip
    scenario, uses = example_files(example_dir("datahall"))
    return ValidationAggregator({**config, "scenario": str(scenario), "uses": ",".join(map(str, uses))}, nats_addr=None)


def test_each_window_prints_one_summary_line_and_logs_the_full_report(tmp_path, capsys):
    role = _role(tmp_path)
    role.windows = WindowedValidator(model_check(_model()), 10, started_at=1_700_000_000.0)
    role.report(role.windows.close())  # an empty full window: every point missing
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1, printed
    assert printed.startswith("[tiro_validate] window 2023-11-14 22:13:20–22:13:30 UTC: INVALID (")
    assert "completeness 0.0%; expected " in printed and "received 0" in printed and "collection size 0" in printed
    logged = json.loads((tmp_path / "validation.log").read_text())
    assert logged["valid"] is False and logged["errors"] and logged["counts"]["received"] == 0


def test_verbose_also_prints_the_full_json_report(tmp_path, capsys):
    role = _role(tmp_path, verbose=True)
    role.report(role.windows.close())
    summary, _, report = capsys.readouterr().out.partition("\n")
    assert summary.startswith("[tiro_validate] window ") and "(partial window): valid" in summary
    assert json.loads(report)["partial"] is True


class _HeldLease:
    async def confirm(self, state: dict | None) -> bool:
        return True

    def valid(self) -> bool:
        return True


def test_an_instance_that_takes_the_lease_over_starts_a_partial_window(tmp_path):
    role = _role(tmp_path)
    role.windows.partial = False  # as if it had run for a while
    role.resume_from({"next_round": 0}, _HeldLease())  # karez.leader calls this after winning the lease
    assert role.windows.partial  # it saw none of the window's earlier points: missing ones are not errors

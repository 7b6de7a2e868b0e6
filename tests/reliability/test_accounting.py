"""The reliability counts on fabricated inputs: a series whose every sample was lost still counts as sent and lost."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "reliability"), str(ROOT / "bench")]

from _accounting import account_paths  # noqa: E402
from _pipeline import Setup, victoria_counts  # noqa: E402
from _processes import RecordingMock  # noqa: E402
from _tap import Tap  # noqa: E402

from tiro.examples import example_dir, example_files  # noqa: E402
from tiro.mock.service import build_service  # noqa: E402

KEPT = "DataHall.data_hall_0.Rack.rack_0.Telemetry.ActivePower"
LOST = "DataHall.data_hall_0.Rack.rack_0.Server.server_0.Telemetry.FlowRate"  # every sample of it lost
ATTRIBUTE = "DataHall.data_hall_0.Rack.rack_0.Server.server_0.Attribute.ModelName"  # never sent to the store
SECONDS = (1_767_225_600, 1_767_225_610, 1_767_225_620)


def iso(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat()


def observed_tap() -> Tap:
    """One message per round, each with a sample of the three paths; each path dispatched once per round."""
    tap = Tap("tiro_mock", "tiro_preprocess")
    for i, second in enumerate(SECONDS):
        tap.collected_by_id[f"m{i}"] = [{(p, second * 10**9) for p in (KEPT, LOST, ATTRIBUTE)}]
    tap.tasks_per_path = Counter({KEPT: 3, LOST: 3, ATTRIBUTE: 3})
    return tap


def test_a_path_with_every_sample_lost_counts_as_sent_and_lost():
    served = Counter({(p, s * 10**9): 1 for p in (KEPT, LOST, ATTRIBUTE) for s in SECONDS})
    stored = Counter({(KEPT, s * 10**9): 1 for s in SECONDS})
    counts = account_paths(served, observed_tap(), stored, frozenset({KEPT, LOST}))
    assert counts["points_sent"] == 6 and counts["stored"] == 3 and counts["lost"] == 3
    assert counts["mock_served"] == 6 and counts["served_not_stored"] == 3
    assert counts["dispatched_points"] == 6 and counts["dispatched_not_stored"] == 3
    assert counts["duplicated"] == 0 and counts["stored_never_served"] == 0


def test_victoria_counts_take_the_expected_series_from_the_model_not_from_the_store(tmp_path):
    log = tmp_path / "served.jsonl"
    points = [[p, iso(s)] for s in SECONDS for p in (KEPT, LOST, ATTRIBUTE)]
    log.write_bytes(orjson.dumps({"t": 0, "points": points}) + b"\n")
    scenario, uses = example_files(example_dir("datahall"))
    setup = Setup(tmp_path, scenario, uses, RecordingMock(scenario, uses, 0, log), round_points=3)
    setup.__dict__["telemetry_paths"] = frozenset({KEPT, LOST})  # the model's answer, fabricated for this case
    vm_rows = {(KEPT, s * 1000): 1 for s in SECONDS}  # VictoriaMetrics holds no sample of LOST
    counts = victoria_counts(setup, observed_tap(), 0, vm_rows)
    assert counts["lost"] == 3 and counts["points_sent"] == 6 and counts["stored"] == 3
    assert counts["series_paths"] == 2 and counts["series_paths_stored"] == 1


def test_the_expected_series_are_the_telemetry_paths_the_mock_lists(tmp_path):
    scenario, uses = example_files(example_dir("datahall"))
    with_attribute = tmp_path / "use-attribute.yaml"
    with_attribute.write_text("- DataHall:\n  - Rack:\n    - Server:\n      - ModelName\n")
    uses = [*uses, with_attribute]
    mock = RecordingMock(scenario, uses, 0, tmp_path / "served.jsonl")
    listed = build_service(scenario, uses, seed=mock.seed).listed
    expected = Setup(tmp_path, scenario, uses, mock, round_points=0).telemetry_paths
    assert expected == {p for p in listed if p.split(".")[-2] == "Telemetry"}
    assert KEPT in expected and LOST in expected and ATTRIBUTE in listed and ATTRIBUTE not in expected

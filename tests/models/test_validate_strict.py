"""Strict validation: unknown points and assets, `$number` counts, stale timestamps and the window."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import datahall, make_model, ranged

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.validate import validate

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CRAC = "DataHall.data_hall_0.CRAC.crac_0"
DP = {"value": 1.0, "timestamp": "2024-05-01T12:00:00+00:00"}


@pytest.fixture
def model():
    model = datahall(server_number=(2, 3))
    # CRAC declares a FanSpeed point that no use requires: known to the library, so never "unknown".
    from tiro_models.spec import PointDef

    model.slots["DataHall.CRAC"].known_points["FanSpeed"] = PointDef("FanSpeed", "Telemetry", "float")
    return model


@pytest.fixture
def snapshot(model):
    return Mocker(instantiate(model, seed=1), seed=1).snapshot(now=NOW)


def _errors(result) -> list[tuple[str, str]]:
    return sorted((e.path, e.type) for e in result.errors)


def test_a_mock_snapshot_is_strictly_valid(model, snapshot) -> None:
    result = validate(model, snapshot, strict=True, now=NOW, max_age=60)
    assert result.valid, result.to_dict()["errors"]


def test_unknown_points_are_errors(model, snapshot) -> None:
    telemetry = snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]
    telemetry["Humidity"] = dict(DP)
    telemetry["FanSpeed"] = dict(DP)  # declared by the asset type, just not required
    snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Attribute"] = {"Colour": dict(DP)}
    result = validate(model, snapshot, strict=True)
    assert _errors(result) == [
        (f"{CRAC}.Attribute.Colour", "unknown_point"),
        (f"{CRAC}.Telemetry.Humidity", "unknown_point"),
    ]
    assert result.counts["unknown"] == 2
    assert "Humidity" in result.errors[0].msg or "Humidity" in result.errors[1].msg


def test_unknown_assets_and_slots_are_errors(model, snapshot) -> None:
    snapshot["DataHall"]["data_hall_0"]["Pdu"] = {"pdu_0": {}}
    snapshot["Building"] = {"b0": {}}
    result = validate(model, snapshot, strict=True)
    assert _errors(result) == [("Building", "unknown_asset"), ("DataHall.data_hall_0.Pdu", "unknown_asset")]


def test_unknown_flat_paths_are_errors(model) -> None:
    flat = Mocker(instantiate(model, seed=1), seed=1).flat(now=NOW)
    flat["DataHall.data_hall_0.Telemetry"] = dict(DP)
    flat["DataHall.data_hall_0.Rack.rack_0.Telemetry.Noise"] = dict(DP)
    result = validate(model, flat, strict=True)
    assert _errors(result) == [
        ("DataHall.data_hall_0.Rack.rack_0.Telemetry.Noise", "unknown_point"),
        ("DataHall.data_hall_0.Telemetry", "unknown_point"),
    ]


def test_counts_are_checked_per_parent_instance(model, snapshot) -> None:
    racks = snapshot["DataHall"]["data_hall_0"]["Rack"]
    servers = racks["rack_0"]["Server"]
    for asset_id in list(servers)[1:]:
        del servers[asset_id]
    template = next(iter(racks["rack_1"]["Server"].values()))
    for n in range(4):
        racks["rack_1"]["Server"][f"extra_{n}"] = template
    lenient = validate(model, snapshot)
    assert lenient.valid
    result = validate(model, snapshot, strict=True)
    assert _errors(result) == [
        ("DataHall.data_hall_0.Rack.rack_0.Server", "count"),
        ("DataHall.data_hall_0.Rack.rack_1.Server", "count"),
    ]
    messages = sorted(e.msg for e in result.errors)
    assert messages[0].startswith("expected 2 to 3 Server asset(s) under DataHall.data_hall_0.Rack.rack_0, got 1")
    # the asset short of the minimum counts as missing data
    assert result.counts["missing"] == 1
    assert result.completeness < 1


def test_stale_timestamps(model, snapshot) -> None:
    telemetry = snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]
    telemetry["ActivePower"]["timestamp"] = (NOW - timedelta(minutes=10)).isoformat()
    assert validate(model, snapshot, now=NOW, max_age=60).valid  # lenient ignores freshness
    result = validate(model, snapshot, strict=True, now=NOW, max_age=60)
    assert _errors(result) == [(f"{CRAC}.Telemetry.ActivePower", "stale")]
    assert result.counts["invalid"] == 1
    assert validate(model, snapshot, strict=True, now=NOW, max_age=3600).valid


def test_timestamps_outside_the_window(model, snapshot) -> None:
    window = (NOW - timedelta(seconds=30), NOW + timedelta(seconds=30))
    assert validate(model, snapshot, strict=True, window=window).valid
    telemetry = snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]
    telemetry["ActivePower"]["timestamp"] = (NOW + timedelta(minutes=1)).isoformat()
    telemetry["SupplyTemperature"]["timestamp"] = "2024-05-01T11:59:00"  # naive means UTC: before the window
    result = validate(model, snapshot, strict=True, window=window)
    assert _errors(result) == [
        (f"{CRAC}.Telemetry.ActivePower", "out_of_window"),
        (f"{CRAC}.Telemetry.SupplyTemperature", "out_of_window"),
    ]
    assert "outside the window" in result.errors[0].msg
    # the end of the window is exclusive
    telemetry["ActivePower"]["timestamp"] = window[1].isoformat()
    assert (f"{CRAC}.Telemetry.ActivePower", "out_of_window") in _errors(
        validate(model, snapshot, strict=True, window=window)
    )


def test_strict_rejects_lax_coercions() -> None:
    model = make_model({"Hall": {"points": {"P": ranged()}}})
    snapshot = {"Hall": {"h": {"Telemetry": {"P": {"value": "3.5", "timestamp": "2024-01-01T00:00:00"}}}}}
    assert validate(model, snapshot).valid
    assert _errors(validate(model, snapshot, strict=True)) == [("Hall.h.Telemetry.P", "type_error.float")]


def test_missing_slot_expected_uses_the_number_minimum() -> None:
    model = make_model(
        {
            "Hall": {
                "points": {"T": ranged()},
                "children": {"Rack": {"number": (3, 8), "points": {"A": ranged(), "B": ranged()}}},
            }
        }
    )
    result = validate(model, {"Hall": {"h": {"Telemetry": {"T": dict(DP)}}}}, strict=True)
    assert _errors(result) == [("Hall.h.Rack", "missing")]
    assert result.counts == {"expected": 7, "received": 1, "missing": 6, "invalid": 0, "unknown": 0}
    assert result.completeness == pytest.approx(1 / 7)


def test_flat_input_does_not_count_assets_that_carry_no_required_point() -> None:
    model = make_model(
        {
            "Hall": {
                "children": {
                    "Row": {"number": (2, 2), "children": {"Rack": {"number": (0, 1), "points": {"P": ranged()}}}}
                }
            }
        }
    )
    flat = {"Hall.h.Row.row_0.Rack.rack_0.Telemetry.P": dict(DP)}  # row_1 has no rack, so no point shows it
    assert validate(model, flat, strict=True).valid
    nested = {"Hall": {"h": {"Row": {"row_0": {"Rack": {"rack_0": {"Telemetry": {"P": dict(DP)}}}}}}}}
    assert _errors(validate(model, nested, strict=True)) == [("Hall.h.Row", "count")]

"""Lenient validation (upstream checks): presence at the highest level, types, ranges, timestamps, `$ids`, results."""

from __future__ import annotations

import copy
import json
import os
import random
import sys
from datetime import UTC, datetime

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import datahall, make_model, point, ranged

from tiro_models.errors import SnapshotError
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.validate import Collector, SnapshotNester, nest_flat, validate

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CRAC = "DataHall.data_hall_0.CRAC.crac_0"


@pytest.fixture
def model():
    return datahall(server_number=(2, 2))


@pytest.fixture
def snapshot(model):
    return Mocker(instantiate(model, seed=1), seed=1).snapshot(now=NOW)


def _paths(result) -> list[str]:
    return [e["path"] for e in result.to_dict()["errors"]]


def _crac(snapshot):
    return snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]


def test_a_mock_snapshot_is_valid_and_fully_counted(model, snapshot) -> None:
    result = validate(model, snapshot, now=NOW)
    assert result.valid
    assert result.to_dict()["exception"] is None
    assert result.counts == {"expected": 9, "received": 9, "missing": 0, "invalid": 0, "unknown": 0}
    assert result.completeness == 1.0


def test_missing_point_category_and_slot_are_reported_at_the_highest_level(model, snapshot) -> None:
    del _crac(snapshot)["ActivePower"]
    del snapshot["DataHall"]["data_hall_0"]["Rack"]["rack_1"]["Telemetry"]
    del snapshot["DataHall"]["data_hall_0"]["Rack"]["rack_0"]["Server"]
    result = validate(model, snapshot)
    assert sorted(_paths(result)) == sorted(
        [
            f"{CRAC}.Telemetry.ActivePower",
            "DataHall.data_hall_0.Rack.rack_1.Telemetry",
            "DataHall.data_hall_0.Rack.rack_0.Server",
        ]
    )
    assert {e.type for e in result.errors} == {"missing"}
    exception = result.to_dict()["exception"]
    assert {
        "loc": ["DataHall", "data_hall_0", "Rack", "rack_0", "Server"],
        "msg": "field required",
        "type": "value_error.missing",
    } in exception
    # expected for the missing Server slot comes from its $number minimum (2 servers x 1 point)
    assert result.counts == {"expected": 9, "received": 5, "missing": 4, "invalid": 0, "unknown": 0}
    assert result.completeness == pytest.approx(5 / 9)


def test_missing_root_slot(model) -> None:
    result = validate(model, {})
    assert _paths(result) == ["DataHall"]
    assert result.counts["expected"] == 9 and result.counts["missing"] == 9
    assert result.completeness == 0


def test_range_error_names_the_limit_and_path(model, snapshot) -> None:
    _crac(snapshot)["ActivePower"]["value"] = 1200.5
    result = validate(model, snapshot)
    assert [e.to_dict() for e in result.errors] == [
        {
            "path": f"{CRAC}.Telemetry.ActivePower",
            "msg": "ensure this value is less than or equal to 1000",
            "type": "value_error.number.not_le",
        }
    ]
    upstream = result.to_dict()["exception"][0]
    assert upstream["loc"] == [*CRAC.split("."), "Telemetry", "ActivePower", "value"]
    assert upstream["ctx"] == {"limit_value": 1000}
    assert result.counts["invalid"] == 1 and result.counts["received"] == 9
    assert result.completeness == pytest.approx(8 / 9)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, "type_error.float"),
        ("hot", "type_error.float"),
        (None, "type_error.float"),
        ([1], "type_error.float"),
        (-0.01, "value_error.number.not_ge"),
    ],
)
def test_type_and_range_errors(model, snapshot, value, kind) -> None:
    _crac(snapshot)["SupplyTemperature"]["value"] = value
    result = validate(model, snapshot)
    assert [(e.path, e.type) for e in result.errors] == [(f"{CRAC}.Telemetry.SupplyTemperature", kind)]


@pytest.mark.parametrize("value", [12, "12.5", 0, 50])
def test_lax_values_accepted_in_lenient_mode(model, snapshot, value) -> None:
    _crac(snapshot)["SupplyTemperature"]["value"] = value
    assert validate(model, snapshot).valid


def test_numeric_strings_are_rejected_in_strict_mode(model, snapshot) -> None:
    _crac(snapshot)["SupplyTemperature"]["value"] = "12.5"
    assert [e.type for e in validate(model, snapshot, strict=True).errors] == ["type_error.float"]


@pytest.mark.parametrize(
    ("kind", "extra", "good", "bad", "error"),
    [
        ("int", {"ge": 0, "le": 10}, [0, 10, 5.0, "7"], [10.5, True, "x", 11], None),
        ("bool", {}, [True, False, 1, "yes"], [2, "maybe", 1.5], "type_error.bool"),
        ("str", {}, ["a", "", 5], [None, [], True], "type_error.str"),
        ("enum", {"choices": ("on", "off")}, ["on", "off"], ["auto", None, 1], "type_error.enum"),
        ("float", {"gt": 0, "lt": 1}, [0.5, 0.001], [0, 1, -1], None),
    ],
)
def test_kinds(kind, extra, good, bad, error) -> None:
    model = make_model({"Hall": {"points": {"P": point("Telemetry", kind, **extra)}}})

    def check(value):
        return validate(
            model, {"Hall": {"h": {"Telemetry": {"P": {"value": value, "timestamp": "2024-01-01T00:00:00"}}}}}
        )

    for value in good:
        assert check(value).valid, value
    for value in bad:
        result = check(value)
        assert not result.valid, value
        assert [e.path for e in result.errors] == ["Hall.h.Telemetry.P"]
        if error:
            assert result.errors[0].type == error


@pytest.mark.parametrize(
    "timestamp",
    ["2024-01-01T00:00:00", "2024-01-01T00:00:00.123+08:00", "2024-01-01T00:00:00Z", "2024-01-01", 1700000000, 1.7e12],
)
def test_timestamps_accepted(model, snapshot, timestamp) -> None:
    _crac(snapshot)["SupplyTemperature"]["timestamp"] = timestamp
    assert validate(model, snapshot).valid


@pytest.mark.parametrize("timestamp", ["yesterday", "2024-13-01T00:00:00", None, True, {"t": 1}])
def test_bad_timestamps(model, snapshot, timestamp) -> None:
    _crac(snapshot)["SupplyTemperature"]["timestamp"] = timestamp
    result = validate(model, snapshot)
    assert [(e.path, e.type) for e in result.errors] == [
        (f"{CRAC}.Telemetry.SupplyTemperature", "value_error.datetime")
    ]
    assert result.to_dict()["exception"][0]["loc"][-1] == "timestamp"
    assert result.errors[0].msg == "invalid datetime format"


def test_dp_without_value_or_timestamp_or_not_an_object(model, snapshot) -> None:
    del _crac(snapshot)["SupplyTemperature"]["timestamp"]
    del _crac(snapshot)["ReturnTemperature"]["value"]
    _crac(snapshot)["ActivePower"] = 5
    result = validate(model, snapshot)
    assert sorted((e.path, e.type, e.loc[-1]) for e in result.errors) == [
        (f"{CRAC}.Telemetry.ActivePower", "type_error.dict", "ActivePower"),
        (f"{CRAC}.Telemetry.ReturnTemperature", "missing", "value"),
        (f"{CRAC}.Telemetry.SupplyTemperature", "missing", "timestamp"),
    ]
    assert result.counts["invalid"] == 3


def test_non_object_slot_entity_and_category(model, snapshot) -> None:
    hall = snapshot["DataHall"]["data_hall_0"]
    hall["CRAC"] = [1, 2]
    hall["Rack"]["rack_0"] = "rack"
    hall["Rack"]["rack_1"]["Telemetry"] = 3
    result = validate(model, snapshot)
    assert sorted(_paths(result)) == [
        "DataHall.data_hall_0.CRAC",
        "DataHall.data_hall_0.Rack.rack_0",
        "DataHall.data_hall_0.Rack.rack_1.Telemetry",
    ]
    assert {e.type for e in result.errors} == {"type_error.dict"}


def test_unknown_points_and_assets_pass_in_lenient_mode_but_are_counted(model, snapshot) -> None:
    _crac(snapshot)["Humidity"] = {"value": 1, "timestamp": "2024-01-01T00:00:00"}
    snapshot["DataHall"]["data_hall_0"]["Pdu"] = {"pdu_0": {}}
    snapshot["Other"] = {}
    result = validate(model, snapshot)
    assert result.valid
    assert result.counts["unknown"] == 3


def test_ids_restrict_asset_ids() -> None:
    model = make_model(
        {"Hall": {"children": {"Pdu": {"number": (1, 2), "ids": ["a", "b"], "points": {"P": ranged()}}}}}
    )
    dp = {"value": 1.0, "timestamp": "2024-01-01T00:00:00"}
    assert validate(model, {"Hall": {"h": {"Pdu": {"a": {"Telemetry": {"P": dp}}}}}}).valid
    result = validate(model, {"Hall": {"h": {"Pdu": {"a": {"Telemetry": {"P": dp}}, "c": {"Telemetry": {"P": dp}}}}}})
    assert [(e.path, e.type) for e in result.errors] == [("Hall.h.Pdu.c", "value_error.id")]
    upstream = result.to_dict()["exception"][0]
    assert upstream["loc"] == ["Hall", "h", "Pdu", "__key__"]
    assert upstream["msg"] == "unexpected value; permitted: 'a', 'b'"


def test_points_with_defaults_are_optional_but_checked_when_present() -> None:
    model = make_model({"Hall": {"points": {"T": ranged(0, 10), "D": ranged(0, 10)}, "defaults": {"D": 5.0}}})
    base = {"T": {"value": 1.0, "timestamp": "2024-01-01T00:00:00"}}
    assert validate(model, {"Hall": {"h": {"Telemetry": base}}}).valid
    bad = {**base, "D": {"value": 11.0, "timestamp": "2024-01-01T00:00:00"}}
    assert _paths(validate(model, {"Hall": {"h": {"Telemetry": bad}}})) == ["Hall.h.Telemetry.D"]
    only_defaults = make_model(
        {"Hall": {"points": {"T": ranged()}, "children": {"Rack": {"points": {"D": ranged()}, "defaults": {"D": 1.0}}}}}
    )
    assert validate(only_defaults, {"Hall": {"h": {"Telemetry": base}}}).valid  # a subtree of defaults is not required


def test_zero_minimum_slots_are_not_required() -> None:
    model = make_model(
        {"Hall": {"points": {"T": ranged()}, "children": {"Ups": {"number": (0, 3), "points": {"P": ranged()}}}}}
    )
    assert validate(model, {"Hall": {"h": {"Telemetry": {"T": {"value": 1.0, "timestamp": "2024-01-01"}}}}}).valid


def test_flat_input_is_detected_and_validated_the_same(model, snapshot) -> None:
    flat = Mocker(instantiate(model, seed=1), seed=1).flat(now=NOW)
    assert validate(model, flat).valid
    broken = dict(flat)
    del broken[f"{CRAC}.Telemetry.ActivePower"]
    broken["DataHall.data_hall_0.Rack.rack_0.Telemetry.ActivePower"] = {"value": -1, "timestamp": "2024-01-01"}
    broken["not a path"] = {"value": 1}
    result = validate(model, broken)
    assert sorted(_paths(result)) == [
        f"{CRAC}.Telemetry.ActivePower",
        "DataHall.data_hall_0.Rack.rack_0.Telemetry.ActivePower",
    ]
    assert result.counts["unknown"] == 1


def test_result_json_keeps_upstream_fields(model, snapshot) -> None:
    window = (datetime(2024, 5, 1, 11, 59, tzinfo=UTC), datetime(2024, 5, 1, 12, 1, tzinfo=UTC))
    result = validate(model, snapshot, window=window)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["start"] == "2024-05-01T11:59:00+00:00" and data["end"] == "2024-05-01T12:01:00+00:00"
    assert set(data) == {"start", "end", "valid", "exception", "errors", "counts", "completeness"}
    assert str(result).endswith("Successful!")
    _crac(snapshot)["ActivePower"]["value"] = 5000
    text = str(validate(model, snapshot))
    assert "Failed!" in text and f"{CRAC}.Telemetry.ActivePower" in text and "1000" in text


def test_snapshot_must_be_an_object(model) -> None:
    with pytest.raises(SnapshotError, match="JSON object"):
        validate(model, [1, 2])  # type: ignore[arg-type]


def test_validation_does_not_modify_the_snapshot(model, snapshot) -> None:
    _crac(snapshot)["ActivePower"]["value"] = "7"
    before = copy.deepcopy(snapshot)
    validate(model, snapshot, strict=True)
    assert snapshot == before


def test_collector_keeps_the_latest_value_per_path(model) -> None:
    mocker = Mocker(instantiate(model, seed=1), seed=1)
    collector = Collector()
    collector.collect_many(mocker.flat(now=NOW).items())
    newer = {"value": 999.0, "timestamp": "2024-05-01T12:00:05+00:00"}
    collector.collect(f"{CRAC}.Telemetry.ActivePower", newer)
    assert len(collector) == 9
    assert collector.snapshot()[f"{CRAC}.Telemetry.ActivePower"] == newer
    assert validate(model, collector.snapshot()).valid
    collector.clear()
    assert validate(model, collector.snapshot()).counts["received"] == 0


def test_collector_accepts_sub_snapshots_at_any_depth(model) -> None:
    snapshot = Mocker(instantiate(model, seed=1), seed=1).snapshot(now=NOW)
    whole, by_asset, by_category = Collector(), Collector(), Collector()
    whole.collect("", snapshot)
    hall = snapshot["DataHall"]["data_hall_0"]
    by_asset.collect("DataHall", snapshot["DataHall"])
    by_category.collect(f"{CRAC}.Telemetry", hall["CRAC"]["crac_0"]["Telemetry"])
    assert whole.snapshot() == by_asset.snapshot()
    assert len(whole) == 9
    assert sorted(by_category.snapshot()) == sorted(p for p in whole.snapshot() if p.startswith(CRAC))
    with pytest.raises(SnapshotError):
        whole.collect("DataHall.data_hall_0", 5)


def test_flat_paths_running_through_a_data_point_are_not_a_crash(model) -> None:
    flat = {
        f"{CRAC}.Telemetry.ActivePower": 5,
        f"{CRAC}.Telemetry.ActivePower.Telemetry.Z": {"value": 1},
        f"{CRAC}.Telemetry.ActivePower.x.Telemetry.Z": {"value": 1},
        "DataHall.data_hall_0.Telemetry": 3,
        "nodots": 1,
    }
    result = validate(model, flat, strict=True)
    assert not result.valid
    assert ("DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower", "type_error.dict") in [
        (e.path, e.type) for e in result.errors
    ]
    assert {e.path for e in result.errors if e.type == "unknown_point"} >= {"nodots", "DataHall.data_hall_0.Telemetry"}


def test_a_nester_reusing_its_tree_gives_the_results_of_a_fresh_nesting(model) -> None:
    flat = Mocker(instantiate(model, seed=1), seed=1).flat(now=NOW)
    bad_value = {**flat, f"{CRAC}.Telemetry.ActivePower": {"value": -1, "timestamp": "2024-01-01"}}
    fewer = {k: v for k, v in flat.items() if k != f"{CRAC}.Telemetry.ActivePower"}
    odd = {**flat, "not a path": {"value": 1}, f"{CRAC}.Telemetry.ActivePower.x.Telemetry.Z": {"value": 1}}
    reordered = dict(reversed(list(bad_value.items())))
    nester = SnapshotNester()
    # same paths again (the tree is refilled), other paths (rebuilt), odd keys, and back
    for window in [flat, bad_value, flat, fewer, fewer, odd, odd, reordered, flat, {}, flat]:
        for strict in (False, True):
            fresh = validate(model, dict(window), now=NOW, strict=strict)
            reused = validate(model, dict(window), now=NOW, strict=strict, nester=nester)
            assert sorted(map(str, reused.errors)) == sorted(map(str, fresh.errors))
            assert reused.counts == fresh.counts
    # windows with a few points more or fewer than the last one: the kept tree is edited, not rebuilt
    rng = random.Random(5)
    paths = list(flat)
    for _ in range(30):
        window = {p: flat[p] for p in paths if rng.random() < 0.9}
        nested, bad = nester.nest(dict(window))
        assert (nested, bad) == nest_flat(window)
        assert validate(model, dict(window), now=NOW, nester=nester).counts == validate(model, window, now=NOW).counts
    nested, bad = nester.nest(odd)
    assert (nested, sorted(bad)) == (nest_flat(odd)[0], sorted(nest_flat(odd)[1]))
    assert nester.nest({1: {"value": 1}}) == ({}, ["1"])  # a non-string key: built fresh, not remembered
    assert nester.nest({}) == ({}, [])


def test_kind_any_validates_through_the_pydantic_annotation() -> None:
    from pydantic import conint

    model = make_model({"Hall": {"points": {"P": point("Telemetry", "any", py_type=conint(ge=1, le=3))}}})

    def check(value, strict=False):
        snapshot = {"Hall": {"h": {"Telemetry": {"P": {"value": value, "timestamp": "2024-01-01T00:00:00"}}}}}
        return validate(model, snapshot, strict=strict)

    assert check(2).valid and check("2").valid
    assert not check("2", strict=True).valid
    result = check(7)
    assert [(e.path, e.type) for e in result.errors] == [("Hall.h.Telemetry.P", "pydantic.less_than_equal")]
    json.dumps(result.to_dict())

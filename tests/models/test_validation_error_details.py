"""Error records carry the offending value and what was allowed; `{path, msg, type}` and upstream stay unchanged."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import datahall, make_model, point, ranged

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.validate import validate

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CRAC = "DataHall.data_hall_0.CRAC.crac_0"
DP_TIME = "2024-01-01T00:00:00"


def _snapshot(model):
    return Mocker(instantiate(model, seed=1), seed=1).snapshot(now=NOW)


def _crac(snapshot):
    return snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]


def test_out_of_range_value_names_the_value_and_the_range() -> None:
    model = datahall(server_number=(2, 2))
    snapshot = _snapshot(model)
    _crac(snapshot)["ActivePower"]["value"] = 1200.5
    result = validate(model, snapshot)
    [error] = result.to_dict()["errors"]
    assert error["path"] == f"{CRAC}.Telemetry.ActivePower"
    assert error["type"] == "value_error.number.not_le"
    assert error["value"] == 1200.5
    assert error["allowed"].startswith("float in [") and error["allowed"].split(", ")[1].startswith("1000]")
    assert result.errors[0].to_dict() == {"path": error["path"], "msg": error["msg"], "type": error["type"]}
    assert set(result.to_dict()["exception"][0]) == {"loc", "msg", "type", "ctx"}  # upstream form unchanged


def test_allowed_text_of_each_kind_and_bound() -> None:
    model = make_model(
        {
            "Hall": {
                "points": {
                    "Open": ranged(0, 100, unit="%", gt=None),
                    "Mode": point(kind="enum", choices=["on", "off"]),
                    "Flag": point(kind="bool"),
                    "Count": point(kind="int", gt=0, lt=10, unit=None),
                }
            }
        }
    )
    bad = {
        "Open": {"value": -1.0, "timestamp": DP_TIME},
        "Mode": {"value": "auto", "timestamp": DP_TIME},
        "Flag": {"value": [1], "timestamp": DP_TIME},
        "Count": {"value": 10, "timestamp": DP_TIME},
    }
    errors = {
        e["path"].rsplit(".", 1)[1]: e for e in validate(model, {"Hall": {"h": {"Telemetry": bad}}}).to_dict()["errors"]
    }
    assert (errors["Open"]["value"], errors["Open"]["allowed"]) == (-1.0, "float in [0, 100] %")
    assert (errors["Mode"]["value"], errors["Mode"]["allowed"]) == ("auto", "one of 'on', 'off'")
    assert (errors["Flag"]["value"], errors["Flag"]["allowed"]) == ("[1]", "bool")
    assert (errors["Count"]["value"], errors["Count"]["allowed"]) == (10, "int in (0, 10)")


def test_missing_points_have_no_value_and_bad_timestamps_show_theirs() -> None:
    model = datahall(server_number=(2, 2))
    snapshot = _snapshot(model)
    del _crac(snapshot)["ActivePower"]
    _crac(snapshot)["SupplyTemperature"]["timestamp"] = "yesterday"
    _crac(snapshot)["ReturnTemperature"]["value"] = {"nested": "x" * 200}
    result = validate(model, snapshot)
    by_point = {e["path"].rsplit(".", 1)[1]: e for e in result.to_dict()["errors"]}
    assert "value" not in by_point["ActivePower"] and by_point["ActivePower"]["type"] == "missing"
    assert by_point["SupplyTemperature"]["value"] == "yesterday"
    assert by_point["SupplyTemperature"]["allowed"].startswith("ISO 8601 or epoch time")
    shortened = by_point["ReturnTemperature"]["value"]
    assert isinstance(shortened, str) and shortened.endswith("…") and len(shortened) <= 81
    json.dumps(result.to_dict())  # every value is JSON-safe


def test_strict_window_and_count_errors_name_the_window_and_the_number() -> None:
    model = datahall(server_number=(2, 2))
    snapshot = _snapshot(model)
    del snapshot["DataHall"]["data_hall_0"]["Rack"]["rack_0"]["Server"]["server_1"]
    window = (datetime(2024, 5, 1, 11, 59, tzinfo=UTC), datetime(2024, 5, 1, 11, 59, 30, tzinfo=UTC))
    result = validate(model, snapshot, strict=True, now=NOW, window=window)
    types = {e["type"]: e for e in result.to_dict()["errors"]}
    assert types["count"]["value"] == 1 and types["count"]["allowed"] == "2 asset(s)"
    assert "in [2024-05-01T11:59:00+00:00, 2024-05-01T11:59:30+00:00)" in types["out_of_window"]["allowed"]


def test_a_value_that_cannot_be_utf8_is_shown_escaped() -> None:
    model = datahall(server_number=(2, 2))
    snapshot = _snapshot(model)
    _crac(snapshot)["ActivePower"]["value"] = "bad\ud800"
    [error] = validate(model, snapshot).to_dict()["errors"]
    assert error["value"] == "'bad\\ud800'"
    json.dumps(error, ensure_ascii=False).encode()  # writable to a UTF-8 log

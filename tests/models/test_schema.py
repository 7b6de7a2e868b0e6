"""JSON Schema 2020-12 of the required data: structure, types and ranges, units, descriptions, required-ness."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import jsonschema
import pytest
from pydantic import conint

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import datahall, make_model, point, ranged

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.schema import DIALECT, json_schema

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_schema_is_2020_12_with_defs_named_by_path() -> None:
    schema = json_schema(datahall())
    assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["$defs"]) == {
        "DataHall",
        "DataHall.CRAC",
        "DataHall.CRAC.Telemetry",
        "DataHall.CRAC.ActivePower",
        "DataHall.CRAC.SupplyTemperature",
        "DataHall.CRAC.ReturnTemperature",
        "DataHall.Rack",
        "DataHall.Rack.Telemetry",
        "DataHall.Rack.ActivePower",
        "DataHall.Rack.Server",
        "DataHall.Rack.Server.Telemetry",
        "DataHall.Rack.Server.FlowRate",
    }
    assert schema["required"] == ["DataHall"]
    assert schema["properties"]["DataHall"]["additionalProperties"] == {"$ref": "#/$defs/DataHall"}
    _validator(schema)


def test_point_definition_has_typed_ranged_value_timestamp_unit_and_description() -> None:
    model = make_model({"Hall": {"points": {"T": ranged(0, 50, "°C", description="Room air")}}})
    dp = json_schema(model)["$defs"]["Hall.T"]
    assert dp["properties"]["value"] == {"type": "number", "minimum": 0, "maximum": 50}
    assert dp["properties"]["timestamp"]["format"] == "date-time"
    assert dp["properties"]["unit"] == {"const": "°C"}
    assert dp["unit"] == "°C"
    assert dp["description"] == "Room air"
    assert dp["required"] == ["value", "timestamp"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"kind": "int", "ge": 0, "le": 10}, {"type": "integer", "minimum": 0, "maximum": 10}),
        ({"kind": "float", "gt": 0, "lt": 1}, {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}),
        ({"kind": "bool"}, {"type": "boolean"}),
        ({"kind": "str"}, {"type": "string"}),
        ({"kind": "enum", "choices": ("on", "off")}, {"enum": ["on", "off"]}),
        ({"kind": "any", "py_type": conint(ge=1, le=3)}, {"type": "integer", "minimum": 1, "maximum": 3}),
        ({"kind": "any"}, {}),
    ],
)
def test_value_schemas_per_kind(kwargs, expected) -> None:
    model = make_model({"Hall": {"points": {"P": point("Telemetry", **kwargs)}}})
    assert json_schema(model)["$defs"]["Hall.P"]["properties"]["value"] == expected


def test_points_with_defaults_are_not_required() -> None:
    model = make_model(
        {"Hall": {"points": {"T": ranged(), "Site": point("Attribute", "str")}, "defaults": {"Site": "SG"}}}
    )
    schema = json_schema(model)
    assert schema["$defs"]["Hall.Attribute"]["required"] == []
    assert schema["$defs"]["Hall"]["required"] == ["Telemetry"]
    assert schema["$defs"]["Hall.Site"]["default"] == {"value": "SG"}


def test_ids_restrict_property_names() -> None:
    model = make_model({"Hall": {"children": {"Pdu": {"ids": ["a", "b"], "points": {"P": ranged()}}}}})
    pdu = json_schema(model)["$defs"]["Hall"]["properties"]["Pdu"]
    assert pdu["propertyNames"] == {"enum": ["a", "b"]}
    validator = _validator(json_schema(model))
    dp = {"value": 1.0, "timestamp": "2024-01-01T00:00:00Z"}
    assert validator.is_valid({"Hall": {"h": {"Pdu": {"a": {"Telemetry": {"P": dp}}}}}})
    assert not validator.is_valid({"Hall": {"h": {"Pdu": {"z": {"Telemetry": {"P": dp}}}}}})


def test_require_all_children_switch() -> None:
    model = make_model(
        {
            "Hall": {
                "points": {"T": ranged()},
                "children": {
                    "Rack": {"points": {"D": ranged()}, "defaults": {"D": 1.0}},
                    "Ups": {"number": (0, 2), "points": {"P": ranged()}},
                },
            }
        }
    )
    assert json_schema(model)["$defs"]["Hall"]["required"] == ["Telemetry", "Rack"]
    assert json_schema(model, require_all_children=False)["$defs"]["Hall"]["required"] == ["Telemetry"]


def test_mock_snapshot_validates_and_violations_are_rejected() -> None:
    model = datahall()
    snapshot = Mocker(instantiate(model, seed=3), seed=3).snapshot(now=NOW)
    validator = _validator(json_schema(model))
    validator.validate(snapshot)
    snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]["ActivePower"]["value"] = 1001
    errors = list(validator.iter_errors(snapshot))
    assert len(errors) == 1
    assert list(errors[0].absolute_path) == [
        "DataHall",
        "data_hall_0",
        "CRAC",
        "crac_0",
        "Telemetry",
        "ActivePower",
        "value",
    ]
    del snapshot["DataHall"]["data_hall_0"]["Rack"]
    assert not validator.is_valid(snapshot)

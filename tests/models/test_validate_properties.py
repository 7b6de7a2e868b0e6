"""Properties: a mock snapshot of any generated model validates; one value pushed out of range is reported exactly."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import make_model, point

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.schema import json_schema
from tiro_models.validate import validate

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SLOT_NAMES = ["Rack", "Server", "Pdu", "CRAC", "UPSUnit", "Room", "Data_Hall", "Fan"]
POINT_NAMES = ["Temperature", "Power", "Speed", "Mode", "Model", "On", "Flow", "Humidity"]


@st.composite
def point_defs(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(["float", "int", "bool", "str", "enum"]))
    category = draw(st.sampled_from(["Telemetry", "Attribute"]))
    extra: dict[str, Any] = {}
    if kind == "float":
        low = draw(st.floats(-1e6, 1e6, allow_nan=False))
        span = draw(st.floats(0, 1e6, allow_nan=False))
        bounds = draw(st.sampled_from(["both", "ge", "le", "none", "gt_lt"]))
        if bounds in ("both", "ge"):
            extra["ge"] = low
        if bounds in ("both", "le"):
            extra["le"] = low + span
        if bounds == "gt_lt":
            extra["gt"], extra["lt"] = low, low + span + 1
        extra["decimals"] = draw(st.integers(0, 4))
    elif kind == "int":
        low = draw(st.integers(-(10**6), 10**6))
        extra["ge"] = low
        if draw(st.booleans()):
            extra["le"] = low + draw(st.integers(0, 1000))
    elif kind == "enum":
        extra["choices"] = tuple(
            draw(st.lists(st.sampled_from(["a", "b", "c", 1, 2]), min_size=1, max_size=4, unique=True))
        )
    if draw(st.booleans()):
        extra["time_var"] = draw(st.floats(0, 120))
    return point(category, kind, unit=draw(st.sampled_from([None, "W", "°C"])), **extra)


@st.composite
def slot_trees(draw, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(SLOT_NAMES), min_size=1, max_size=2 if depth else 1, unique=True))
    tree: dict[str, Any] = {}
    for name in names:
        low = draw(st.integers(1 if depth == 0 else 0, 2))
        points = {n: draw(point_defs()) for n in draw(st.lists(st.sampled_from(POINT_NAMES), max_size=3, unique=True))}
        spec: dict[str, Any] = {"number": (low, low + draw(st.integers(0, 2))), "points": points}
        if points and draw(st.booleans()):
            defaulted = draw(st.sampled_from(sorted(points)))
            spec["defaults"] = {defaulted: None}
        if depth < 2 and draw(st.booleans()):
            spec["children"] = draw(slot_trees(depth + 1))
        tree[name] = spec
    return tree


PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(tree=slot_trees(), seed=st.integers(0, 2**16), numbering=st.sampled_from(["global", "per_parent"]))
def test_mock_snapshot_of_any_model_validates(tree, seed, numbering) -> None:
    model = make_model(tree)
    instances = instantiate(model, seed=seed, numbering=numbering)
    mocker = Mocker(instances, seed=seed)
    snapshot = mocker.snapshot(now=NOW)
    result = validate(model, snapshot, strict=True, now=NOW, max_age=3600)
    assert result.valid, result.to_dict()["errors"][:5]
    assert result.counts["received"] == len(mocker.data_point_paths())
    assert validate(model, mocker.flat(now=NOW), strict=True).valid
    # and the JSON Schema accepts it too
    import jsonschema

    jsonschema.Draft202012Validator(json_schema(model, require_all_children=False)).validate(snapshot)


@PROPERTY_SETTINGS
@given(tree=slot_trees(), seed=st.integers(0, 2**16), pick=st.integers(0, 10**6), above=st.booleans())
def test_one_value_out_of_range_is_reported_at_exactly_that_path(tree, seed, pick, above) -> None:
    model = make_model(tree)
    instances = instantiate(model, seed=seed)
    flat = Mocker(instances, seed=seed).flat(now=NOW)
    bounded = []
    for path in flat:
        d = instances.points[path].definition
        if d.kind in ("float", "int") and (d.ge is not None or d.le is not None):
            bounded.append(path)
    if not bounded:
        return
    path = bounded[pick % len(bounded)]
    d = instances.points[path].definition
    if (above and d.le is not None) or d.ge is None:
        bad, kind = d.le + 1, "value_error.number.not_le"
    else:
        bad, kind = d.ge - 1, "value_error.number.not_ge"
    flat[path] = {**flat[path], "value": int(bad) if d.kind == "int" else float(bad)}
    result = validate(model, flat)
    assert [(e.path, e.type) for e in result.errors] == [(path, kind)]
    assert result.counts["invalid"] == 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=20,
)
KEYS = st.sampled_from(["DataHall", "data_hall_0", "CRAC", "crac_0", "Rack", "rack_0", "Telemetry", "ActivePower"])
PATHS = st.lists(KEYS, min_size=1, max_size=8).map(".".join)


@settings(max_examples=150, deadline=None)
@given(
    snapshot=st.dictionaries(KEYS, JSON, max_size=4) | st.dictionaries(PATHS, JSON, max_size=6),
    strict=st.booleans(),
)
def test_arbitrary_input_never_crashes(snapshot, strict) -> None:
    from _h2b_factory import datahall

    result = validate(datahall(), snapshot, strict=strict, max_age=10, window=(NOW, NOW))
    assert isinstance(result.to_dict()["valid"], bool)
    assert 0 <= result.completeness <= 1

"""The qpath DSL parser: structure, filter semantics (with `$lt` fixed) and errors that name the file and line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiro.examples import example_dir, example_files
from tiro_models.compile import load_model
from tiro_models.qpath import PointFilter, QNode, QPathError, QPoint, load_qpath, parse_qpath

EXAMPLE = """\
DataHall:
  Rack:
    $name_match: _1
    Server:
      FlowRate: {$lt: 400}
  CRAC:
    ActivePower: null
    _ReturnTemperature: {$gt: 25}
"""


def test_the_upstream_example_parses_into_nodes_points_and_filters():
    qpath = parse_qpath(EXAMPLE)
    (hall,) = qpath.roots
    assert (hall.slot, hall.type_path, hall.points) == ("DataHall", "DataHall", ())
    rack, crac = hall.children
    assert rack == QNode(
        "Rack",
        "DataHall.Rack",
        "_1",
        (),
        (
            QNode(
                "Server",
                "DataHall.Rack.Server",
                None,
                (QPoint("FlowRate", "DataHall.Rack.Server.FlowRate", (PointFilter("lt", 400),)),),
            ),
        ),
    )
    power, temp = crac.points
    assert power == QPoint("ActivePower", "DataHall.CRAC.ActivePower")
    assert (
        temp.auxiliary
        and temp.stored_name == "ReturnTemperature"
        and temp.type_path == "DataHall.CRAC.ReturnTemperature"
    )
    assert qpath.node_type_paths() == ["DataHall", "DataHall.Rack", "DataHall.Rack.Server", "DataHall.CRAC"]
    assert qpath.point_type_paths() == [
        "DataHall.Rack.Server.FlowRate",
        "DataHall.CRAC.ActivePower",
        "DataHall.CRAC.ReturnTemperature",
    ]
    assert crac.output_names() == frozenset({"ActivePower"})


def test_lt_means_less_than_and_comparisons_need_numbers():
    lt = PointFilter("lt", 400)
    assert lt.accepts(399.9) and not lt.accepts(400) and not lt.accepts(401)
    assert PointFilter("le", 400).accepts(400) and PointFilter("ge", 400).accepts(400)
    assert not PointFilter("gt", 400).accepts(400) and PointFilter("gt", 400).accepts(400.5)
    for odd in (True, "100", None, float("nan"), {"v": 1}):
        assert not lt.accepts(odd)


def test_match_filters_search_the_value_text():
    assert PointFilter("match", "^cool").accepts("cooling")
    assert not PointFilter("match", "^cool").accepts("precooling")
    assert PointFilter("match", r"^4\d\d").accepts(412.5)
    assert PointFilter("not_match", "fault").accepts("standby")
    assert not PointFilter("not_match", "fault").accepts("fault 3")
    assert PointFilter("match", "^true$").accepts(True)
    assert not PointFilter("match", ".").accepts(None)


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_comparisons_agree_with_python_operators(value, threshold):
    assert PointFilter("lt", threshold).accepts(value) == (value < threshold)
    assert PointFilter("le", threshold).accepts(value) == (value <= threshold)
    assert PointFilter("gt", threshold).accepts(value) == (value > threshold)
    assert PointFilter("ge", threshold).accepts(value) == (value >= threshold)


def test_node_keeps_an_asset_when_name_and_every_filter_hold():
    node = parse_qpath(
        {"Server": {"$name_match": "_[12]$", "FlowRate": {"$gt": 10, "$lt": 20}, "_Power": {"$ge": 1}}}
    ).roots[0]
    assert node.keeps("server_1", {"FlowRate": 15, "Power": 1})
    assert not node.keeps("server_3", {"FlowRate": 15, "Power": 1})  # name
    assert not node.keeps("server_2", {"FlowRate": 20, "Power": 1})  # $lt is strict
    assert not node.keeps("server_2", {"FlowRate": 15})  # a filtered point without a value fails
    assert node.output_names() == frozenset({"FlowRate"})


def test_name_match_only_node_is_a_slot_selecting_all_points():
    node = parse_qpath({"DataHall": {"Rack": {"$name_match": "rack"}}}).roots[0].children[0]
    assert node.name_match == "rack" and node.all_points and node.output_names() is None
    aux_only = parse_qpath({"Server": {"_FlowRate": {"$lt": 3}}}).roots[0]
    assert aux_only.all_points


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("DataHall:\n  CRAC:\n    ActivePower: {$lte: 3}\n", "unknown filter '$lte'", 3),
        ("DataHall:\n  CRAC:\n    ActivePower: {$lt: '400'}\n", "$lt needs a number", 3),
        ("DataHall:\n  Rack:\n    $name_match: '(unclosed'\n    ActivePower: null\n", "invalid regex", 3),
        ("DataHall:\n  CRAC:\n    Mode: {$match: 5}\n", "needs a regex string", 3),
        ("DataHall:\n  CRAC:\n    ActivePower: 5\n", "null or a mapping", 3),
        ("DataHall: null\n", "expected a slot", 1),
        ("DataHall:\n  $where: x\n  CRAC: {ActivePower: null}\n", "unknown slot operator", 2),
        ("DataHall:\n  CRAC: {ActivePower: null\n", "malformed YAML", 3),
    ],
)
def test_errors_name_the_file_line_and_qpath_location(text, message, line):
    with pytest.raises(QPathError) as info:
        parse_qpath(text, file="status.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith(f"status.yaml:{line}: ")


def test_with_a_model_unknown_slots_and_points_are_errors(tmp_path):
    model = load_model(*example_files(example_dir("datahall")))
    path = tmp_path / "q.yaml"
    path.write_text("DataHall:\n  Rack:\n    Server:\n      FlowRat: null\n")
    with pytest.raises(QPathError, match=r"q.yaml:4: qpath DataHall.Rack.Server.FlowRat: no such data point"):
        load_qpath(path, model=model)
    path.write_text("DataHall:\n  Racks:\n    ActivePower: null\n")
    with pytest.raises(QPathError, match=r"q.yaml:2: qpath DataHall.Racks: no such slot"):
        load_qpath(path, model=model)
    path.write_text(EXAMPLE)
    assert load_qpath(path, model=model) == parse_qpath(EXAMPLE)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(QPathError, match="file not found"):
        load_qpath(tmp_path / "nope.yaml")

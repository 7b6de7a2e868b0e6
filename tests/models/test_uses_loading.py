"""Uses YAML: list and mapping forms, merging, unknown names (lenient warning / strict error) with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tiro_models import load_model
from tiro_models.errors import UsesError

LIBRARY = """\
Hall:
  points:
    Temperature: {unit: "°C"}
    Site: {category: Attribute, type: str}
Rack:
  points:
    Power: {unit: W}
    Front: {unit: "°C"}
Server:
  points:
    Flow: {unit: L/hr}
    CPU: {unit: "°C"}
"""
SCENARIO = """\
$asset_library_name: lib.yaml
Hall:
  $type: Hall
  Rack:
    $type: Rack
    $number: 2
    Server:
      $type: Server
      $number: 2-5
  CRAC:
    $type: Rack
"""


@pytest.fixture
def files(tmp_path: Path):
    (tmp_path / "lib.yaml").write_text(LIBRARY)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)

    def load(*uses: str, **kwargs):
        paths = []
        for index, text in enumerate(uses):
            path = tmp_path / f"use{index}.yaml"
            path.write_text(textwrap.dedent(text))
            paths.append(path)
        return load_model(tmp_path / "scenario.yaml", paths, **kwargs)

    return load


def test_list_form(files) -> None:
    model = files("- Hall:\n  - CRAC: [Power]\n  - Rack: [Power, {Server: [Flow]}]\n")
    assert list(model.points) == ["Hall.CRAC.Power", "Hall.Rack.Power", "Hall.Rack.Server.Flow"]
    assert list(model.roots["Hall"].children) == ["CRAC", "Rack"]  # first-mention order, not scenario order


@pytest.mark.parametrize(
    "text",
    [
        "Hall: {CRAC: [Power], Rack: {Server: [Flow, CPU]}}\n",
        "Hall:\n  CRAC: Power\n  Rack:\n    Server: [Flow, CPU]\n",
        "- Hall.CRAC.Power\n- Hall.Rack.Server.Flow\n- Hall.Rack.Server.CPU\n",
        "- Hall: [{CRAC: Power}, {Rack.Server: [Flow, CPU]}]\n",
    ],
)
def test_mapping_and_dotted_forms(files, text: str) -> None:
    model = files(text)
    assert list(model.points) == ["Hall.CRAC.Power", "Hall.Rack.Server.Flow", "Hall.Rack.Server.CPU"]
    assert model.slots["Hall.Rack"].points == {}


def test_several_files_merge_in_first_mention_order(files) -> None:
    model = files(
        "- Hall:\n  - CRAC: [Power]\n  - Rack: [Power]\n",
        "- Hall:\n  - Rack: [Front, Power, {Server: [Flow]}]\n  - CRAC: [Front]\n",
    )
    assert list(model.points) == [
        "Hall.CRAC.Power",
        "Hall.Rack.Power",
        "Hall.Rack.Front",
        "Hall.Rack.Server.Flow",
        "Hall.CRAC.Front",
    ]
    assert list(model.slots["Hall.Rack"].points) == ["Power", "Front"]
    assert model.uses == (
        "Hall.CRAC.Power",
        "Hall.Rack.Power",
        "Hall.Rack.Front",
        "Hall.Rack.Server.Flow",
        "Hall.CRAC.Front",
    )


@pytest.mark.parametrize("text", ["- Hall: [Rack]\n", "Hall:\n  Rack:\n", "Hall: {Rack: []}\n", "- Hall.Rack\n"])
def test_child_with_nothing_under_it_is_required_without_points(files, text: str) -> None:
    model = files(text)
    assert list(model.slots) == ["Hall", "Hall.Rack"]
    assert model.points == {}
    assert model.slots["Hall.Rack"].number == (2, 2)


def test_unknown_leaf_is_a_warning_in_lenient_mode(files) -> None:
    warnings: list[str] = []
    model = files("- Hall:\n  - Rack:\n    - Power\n    - ChilledWater\n", warnings=warnings)
    assert list(model.points) == ["Hall.Rack.Power"]
    assert len(warnings) == 1
    assert "use0.yaml:4" in warnings[0] and "Hall.Rack.ChilledWater" in warnings[0]
    assert "Hall.Rack.ChilledWater" in model.uses  # the raw uses, as Tiro 0.13 kept them


def test_unknown_leaf_is_an_error_in_strict_mode(files) -> None:
    with pytest.raises(UsesError, match="ChilledWater") as info:
        files("- Hall:\n  - Rack:\n    - Power\n    - ChilledWater\n", strict=True)
    assert (Path(info.value.file).name, info.value.line) == ("use0.yaml", 4)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("- Hall:\n  - Rakc:\n    - Power\n", 2, "'Rakc' is no child slot of Hall"),
        ("- Hal:\n  - Rack: [Power]\n", 1, "of the scenario's top level"),
        ("- Hall:\n  - Temperature: [X]\n", 2, "data point, not a child"),
        ("Hall:\n  Rack:\n    Server:\n      Nope: [X]\n", 4, "'Nope'"),
        ("- Hall:\n  - [Rack]\n", 2, "not a list"),
        ("- Hall:\n  - {1.5: x}\n", 2, None),
        ("- Hall: [Rack\n", 2, "malformed YAML"),
        ("- Hall:\n  - null\n", 2, "expected a data-point or child name"),
        ("just a string\n", 1, "must be a list or a mapping"),
        ("- Hall..Rack\n", 1, "expected a data-point or child name"),
    ],
)
def test_uses_errors_name_file_and_line(files, text: str, line: int, message: str | None) -> None:
    with pytest.raises(UsesError) as info:
        files(text)
    if message:
        assert message in str(info.value)
    assert Path(info.value.file).name == "use0.yaml"
    assert info.value.line == line


def test_unknown_top_level_leaf_is_lenient(files) -> None:
    warnings: list[str] = []
    assert files("- Nothing\n", warnings=warnings).points == {}
    assert "use0.yaml:1" in warnings[0]


def test_empty_uses_file_requires_nothing(files) -> None:
    warnings: list[str] = []
    assert files("", warnings=warnings).points == {}
    assert "requires nothing" in warnings[0]


def test_missing_uses_file(files, tmp_path: Path) -> None:
    with pytest.raises(UsesError, match="not found"):
        load_model(tmp_path / "scenario.yaml", [tmp_path / "absent.yaml"])


def test_a_single_uses_path_is_accepted(files, tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("- Hall.Temperature\n")
    assert list(load_model(tmp_path / "scenario.yaml", tmp_path / "one.yaml").points) == ["Hall.Temperature"]


def test_close_names_are_suggested(files) -> None:
    with pytest.raises(UsesError, match="did you mean 'Rack'"):
        files("- Hall:\n  - Rakc: [Power]\n")
    warnings: list[str] = []
    files("- Hall:\n  - Rack: [Powr]\n", warnings=warnings)
    assert "did you mean 'Power'" in warnings[0]

"""Scenario YAML: $type forms, $number, $ids, $defaults scoping, nesting, and every error naming file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tiro_models import load_model
from tiro_models.errors import InputError, ScenarioError
from tiro_models.scenario import parse_number

LIBRARY = """\
Base:
  points:
    Temperature: {ge: 0, le: 50, unit: "°C", default: 1}
    Power: {ge: 0, le: 1000, unit: W}
Other:
  points:
    Temperature: {ge: 10, le: 20, unit: K}
    Level: {type: int, ge: 0, le: 9}
Leaf:
  points:
    Value: {type: int}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def scenario(tmp_path: Path, body: str, uses: str, library: str = LIBRARY, **kwargs):
    write(tmp_path, "lib.yaml", library)
    scenario_file = write(tmp_path, "scenario.yaml", "$asset_library_name: lib.yaml\n" + textwrap.dedent(body))
    uses_file = write(tmp_path, "uses.yaml", uses)
    return load_model(scenario_file, [uses_file], **kwargs)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, (1, 1)), (0, (0, 0)), ("3", (3, 3)), ("2-5", (2, 5)), (" 2 - 5 ", (2, 5)), ("4-4", (4, 4))],
)
def test_number_forms(value: object, expected: tuple[int, int]) -> None:
    assert parse_number(value) == (expected, None)


@pytest.mark.parametrize("value", ["5-2", "a-b", "2-", -1, 1.5, True, None, [1], "1-2-3"])
def test_number_errors(value: object) -> None:
    assert parse_number(value)[1] is not None


def test_number_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(tmp_path, "A:\n  $type: Base\n  $number: 5-2\n", "- A: [Power]\n")
    assert info.value.file.endswith("scenario.yaml") and info.value.line == 4
    assert "5-2" in str(info.value)


def test_nesting_to_any_depth_and_number(tmp_path: Path) -> None:
    body = """\
    L1:
      $type: Base
      L2:
        $type: Base
        $number: 3
        L3:
          $type: Base
          L4:
            $type: Base
            $number: 0-2
            L5:
              $type: Leaf
    """
    model = scenario(tmp_path, body, "- L1.L2.L3.L4.L5.Value\n- L1: {L2: {L3: Power}}\n")
    assert list(model.points) == ["L1.L2.L3.L4.L5.Value", "L1.L2.L3.Power"]
    assert model.slots["L1.L2"].number == (3, 3)
    assert model.slots["L1.L2.L3.L4"].number == (0, 2)
    assert model.slots["L1"].number == (1, 1)
    assert [slot.type_path for slot in model.walk()] == ["L1", "L1.L2", "L1.L2.L3", "L1.L2.L3.L4", "L1.L2.L3.L4.L5"]
    assert model.slots["L1.L2.L3.L4"].points == {}
    assert model.slots["L1.L2.L3.L4"].source.line == 9


def test_list_type_merges_bases_later_wins(tmp_path: Path) -> None:
    model = scenario(tmp_path, "A:\n  $type: [Base, Other]\n", "- A: [Temperature, Power, Level]\n")
    assert model.slots["A"].asset_types == ("Base", "Other")
    temperature = model.points["A.Temperature"]
    assert (temperature.unit, temperature.definition.ge) == ("K", 10)
    assert model.points["A.Power"].unit == "W"
    assert model.points["A.Level"].definition.kind == "int"


def test_defaults_stay_in_their_slot(tmp_path: Path) -> None:
    body = """\
    A:
      $type: Base
      $defaults: {Temperature: 20}
    B:
      $type: Base
    """
    model = scenario(tmp_path, body, "- A: [Temperature]\n- B: [Temperature]\n")
    assert model.points["A.Temperature"].default == 20
    assert model.points["B.Temperature"].default == 1
    assert model.slots["A"].known_points["Temperature"].default == 1  # the library's definition is untouched


def test_defaults_do_not_leak_across_scenarios_in_one_process(tmp_path: Path) -> None:
    first = scenario(tmp_path / "one", "A:\n  $type: Base\n  $defaults: {Power: 7}\n", "- A: [Power]\n")
    second = scenario(tmp_path / "two", "A:\n  $type: Base\n", "- A: [Power]\n")
    assert first.points["A.Power"].default == 7
    assert not second.points["A.Power"].has_default


def test_defaults_for_unknown_point_warn_or_fail(tmp_path: Path) -> None:
    warnings: list[str] = []
    scenario(tmp_path, "A:\n  $type: Base\n  $defaults:\n    Nope: 1\n", "- A: [Power]\n", warnings=warnings)
    assert len(warnings) == 1 and "scenario.yaml:5" in warnings[0] and "Nope" in warnings[0]
    with pytest.raises(ScenarioError, match="Nope") as info:
        scenario(tmp_path, "A:\n  $type: Base\n  $defaults:\n    Nope: 1\n", "- A: [Power]\n", strict=True)
    assert info.value.line == 5


def test_ids_without_number_use_every_id(tmp_path: Path) -> None:
    model = scenario(tmp_path, "A:\n  $type: Base\n  $ids: [x, y, 3]\n", "- A: [Power]\n")
    assert model.slots["A"].ids == ("x", "y", "3")
    assert model.slots["A"].number == (3, 3)


def test_ids_with_larger_int_number_is_an_error_with_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="more than the 2") as info:
        scenario(tmp_path, "A:\n  $type: Base\n  $ids: [x, y]\n  $number: 3\n", "- A: [Power]\n")
    assert (Path(info.value.file).name, info.value.line) == ("scenario.yaml", 5)


def test_ids_with_larger_range_is_capped_with_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    model = scenario(
        tmp_path, "A:\n  $type: Base\n  $ids: [x, y]\n  $number: 1-4\n", "- A: [Power]\n", warnings=warnings
    )
    assert model.slots["A"].number == (1, 2)
    assert len(warnings) == 1 and "scenario.yaml:5" in warnings[0]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("A:\n  $number: 2\n", 2, "missing `$type`"),
        ("A:\n  $type: Base\n  B:\n    $number: 1\n", 4, "B: missing `$type`"),
        ("A:\n  $type: Nope\n", 3, "'Nope'"),
        ("A:\n  $type: [Base, Missing]\n", 3, "'Missing'"),
        ("A: 3\n", 2, "expected a mapping"),
        ("A:\n  $type: Base\n  $ids: [x, x]\n", 4, "repeats"),
        ("A:\n  $type: Base\n  $ids: []\n", 4, "non-empty"),
        ("A:\n  $type: Base\n  $defaults: [1]\n", 4, "$defaults"),
        ("A.B:\n  $type: Base\n", 2, "path separator"),
        ("Telemetry:\n  $type: Base\n", 2, "reserved"),
        ("A:\n  $type: 3\n", 3, "$type"),
        ("A:\n  $type: Base\n   bad: [\n", 4, "malformed YAML"),
        ("A:\n  $type: Base\nA:\n  $type: Base\n", 4, "duplicate key"),
    ],
)
def test_scenario_errors_name_file_and_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(tmp_path, body, "- A\n")
    assert message in str(info.value)
    assert Path(info.value.file).name == "scenario.yaml"
    assert info.value.line == line


def test_unknown_type_names_type_library_and_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(tmp_path, "A:\n  $type: Base\n  B:\n    $type: Rackk\n", "- A\n")
    text = str(info.value)
    assert "'Rackk'" in text and "lib.yaml" in text and "scenario.yaml:5" in text


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n", "42\n"])
def test_scenario_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "scenario.yaml", text)
    with pytest.raises(ScenarioError, match="mapping") as info:
        load_model(path, [write(tmp_path, "uses.yaml", "- A\n")])
    assert info.value.line == 1


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found") as info:
        load_model(tmp_path / "nope.yaml", [])
    assert info.value.file.endswith("nope.yaml")
    with pytest.raises(ScenarioError, match="directory"):
        load_model(tmp_path, [])
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ScenarioError, match="UTF-8"):
        load_model(binary, [])


def test_no_library_named(tmp_path: Path) -> None:
    path = write(tmp_path, "scenario.yaml", "A:\n  $type: Base\n")
    with pytest.raises(ScenarioError, match=r"\$asset_library_name") as info:
        load_model(path, [])
    assert isinstance(info.value, InputError)


def test_unknown_meta_key_warns(tmp_path: Path) -> None:
    warnings: list[str] = []
    scenario(tmp_path, "A:\n  $type: Base\n  $nuber: 3\n", "- A\n", warnings=warnings)
    assert any("$nuber" in w and "scenario.yaml:4" in w for w in warnings)

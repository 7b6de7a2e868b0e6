"""The declarative YAML asset library: point settings, inheritance, and errors naming file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tiro_models.errors import LibraryError
from tiro_models.library.yaml_library import YamlLibrary
from tiro_models.spec import ATTRIBUTE, NO_DEFAULT, TELEMETRY


def library(tmp_path: Path, text: str) -> YamlLibrary:
    path = tmp_path / "lib.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return YamlLibrary("lib.yaml", path)


def test_points_with_every_setting(tmp_path: Path) -> None:
    lib = library(
        tmp_path,
        """\
        $comment: ignored
        Server:
          description: a server
          points:
            CPU: {category: Telemetry, type: float, ge: 0, le: 100, unit: "°C", default: 20, description: die,
                  decimals: 1, time_var: 30}
            Fans: {type: int, gt: 0, lt: 10}
            Model: {category: Attribute, type: str}
            On: {type: bool, default: false}
            State: {category: Attribute, type: enum, choices: [running, stopped]}
            Plain:
            Nothing: {type: str, default: null}
        """,
    )
    points = lib.resolve("Server").points
    cpu = points["CPU"]
    assert (cpu.category, cpu.kind, cpu.ge, cpu.le, cpu.unit, cpu.default) == (TELEMETRY, "float", 0, 100, "°C", 20)
    assert (cpu.description, cpu.decimals, cpu.time_var, cpu.source.line) == ("die", 1, 30.0, 5)
    assert (points["Fans"].kind, points["Fans"].gt, points["Fans"].lt) == ("int", 0, 10)
    assert (points["Model"].category, points["Model"].kind, points["Model"].default) == (ATTRIBUTE, "str", NO_DEFAULT)
    assert points["On"].default is False
    assert points["State"].choices == ("running", "stopped")
    assert (points["Plain"].category, points["Plain"].kind) == (TELEMETRY, "float")
    assert points["Nothing"].has_default and points["Nothing"].default is None
    assert lib.type_names() == ["Server"]


def test_extends_one_or_many_later_and_own_points_win(tmp_path: Path) -> None:
    lib = library(
        tmp_path,
        """\
        A:
          points:
            X: {unit: a}
            Y: {unit: a}
        B:
          points:
            X: {unit: b}
            Z: {unit: b}
        C:
          extends: [A, B]
          points:
            Z: {unit: c}
        D:
          extends: C
        """,
    )
    points = lib.resolve("D").points
    assert {name: p.unit for name, p in points.items()} == {"X": "b", "Y": "a", "Z": "c"}
    assert lib.resolve("A").points["X"].unit == "a"  # bases are untouched


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("A:\n  points:\n    X: {colour: red}\n", 3, "unknown setting 'colour'"),
        ("A:\n  points:\n    X: {type: complex}\n", 3, "type must be one of"),
        ("A:\n  points:\n    X: {type: enum}\n", 3, "non-empty list of `choices`"),
        ("A:\n  points:\n    X: {category: Metric}\n", 3, "category must be Telemetry or Attribute"),
        ("A:\n  points:\n    X: {type: str, ge: 1}\n", 3, "applies to float and int"),
        ("A:\n  points:\n    X: {ge: one}\n", 3, "must be a number"),
        ("A:\n  points:\n    X: {decimals: -1}\n", 3, "decimals"),
        ("A:\n  points:\n    X: {time_var: soon}\n", 3, "time_var"),
        ("A:\n  points:\n    X: {unit: 3}\n", 3, "unit must be a string"),
        ("A:\n  points:\n    X: {choices: [1]}\n", 3, "enum points only"),
        ("A:\n  points:\n    X: 3\n", 3, "expected a mapping"),
        ("A:\n  points:\n    X.Y: {}\n", 3, "contain no '.'"),
        ("A:\n  points: [X]\n", 2, "`points` must be a mapping"),
        ("A:\n  extends: B\n", 2, "unknown type 'B'"),
        ("A:\n  extends: A\n", 2, "cycle"),
        ("A:\n  extends: {B: 1}\n", 2, "`extends` must be"),
        ("A:\n  colour: red\n", 2, "unknown key 'colour'"),
        ("A: 3\n", 1, "expected a mapping"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    lib = library(tmp_path, text)
    with pytest.raises(LibraryError) as info:
        lib.resolve("A")
    assert message in str(info.value)
    assert (Path(info.value.file).name, info.value.line) == ("lib.yaml", line)


def test_malformed_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="malformed YAML") as info:
        library(tmp_path, "A:\n  points: {X: [\n")
    assert info.value.file.endswith("lib.yaml") and info.value.line is not None
    with pytest.raises(LibraryError, match="mapping of asset type names"):
        library(tmp_path, "- A\n")


def test_unknown_type_lists_what_exists(tmp_path: Path) -> None:
    lib = library(tmp_path, "A: {}\nB: {}\n")
    with pytest.raises(LookupError, match="defines A, B"):
        lib.resolve("C")
    assert lib.resolve("A").points == {}

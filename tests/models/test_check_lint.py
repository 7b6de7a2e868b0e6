"""check(): every problem in scenario, uses and library, each with severity, file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tiro_models.check import ERROR, WARNING, Diagnostic, check, range_problem, value_problem
from tiro_models.spec import PointDef

DATAHALL = Path(__file__).resolve().parents[2] / "scenarios" / "datahall"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def found(diagnostics: list[Diagnostic]) -> set[tuple[str, str | None, int | None]]:
    return {(d.severity, Path(d.file).name if d.file else None, d.line) for d in diagnostics}


def test_the_example_is_clean() -> None:
    for scenario in ("scenario.yaml", "scenario-yaml-library.yaml"):
        diagnostics = check(DATAHALL / scenario, [DATAHALL / "use-srv1.yaml", DATAHALL / "use-srv2.yaml"])
        assert diagnostics == []


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "lib.yaml",
        """\
        A:
          points:
            Bad: {ge: 5, le: 1}
            Over: {type: int, ge: 0, le: 10, default: 11}
            Wrong: {type: str, default: 3}
            Good: {ge: 0, le: 10}
        """,
    )
    scenario = write(
        tmp_path,
        "scenario.yaml",
        """\
        $asset_library_name: lib.yaml
        Top:
          $type: A
          $number: x-y
          $defaults: {Missing: 1, Good: 20}
          Sub:
            $type: Nope
          Sub2:
            $type: A
            $ids: [a, b]
            $number: 3
          Idle:
            $type: A
        """,
    )
    uses = write(
        tmp_path, "uses.yaml", "- Top:\n  - Good\n  - Unknown\n  - Sub: [K]\n  - Sub2: [Good]\n  - Nowhere: [X]\n"
    )
    diagnostics = check(scenario, [uses, tmp_path / "missing.yaml"])
    messages = {(Path(d.file).name, d.line): d.message for d in diagnostics}
    assert found(diagnostics) == {
        (ERROR, "scenario.yaml", 4),  # $number syntax
        (ERROR, "scenario.yaml", 11),  # $ids vs $number
        (ERROR, "scenario.yaml", 5),  # $defaults names a point A lacks, and a default out of range
        (ERROR, "scenario.yaml", 7),  # unknown type
        (ERROR, "uses.yaml", 3),  # unknown leaf (strict)
        (ERROR, "uses.yaml", 6),  # unknown intermediate child
        (ERROR, "missing.yaml", None),
        (ERROR, "lib.yaml", 3),  # ge > le
        (ERROR, "lib.yaml", 4),  # default out of range
        (ERROR, "lib.yaml", 5),  # default of the wrong type
        (WARNING, "scenario.yaml", 12),  # a slot no uses file requires
    }
    assert "'Nope'" in messages[("scenario.yaml", 7)]
    assert "Unknown" in messages[("uses.yaml", 3)]
    texts = [str(d) for d in diagnostics]
    assert any("Missing" in t for t in texts) and any("$defaults Good: 20 is not <= 10" in t for t in texts)
    assert len(texts) == len(set(texts))


def test_malformed_scenario_is_one_diagnostic(tmp_path: Path) -> None:
    scenario = write(tmp_path, "scenario.yaml", "A:\n  - [\n")
    [diagnostic] = check(scenario, [])
    assert diagnostic.severity == ERROR and diagnostic.line == 3 and "malformed YAML" in diagnostic.message


def test_missing_library_is_reported_and_checking_goes_on(tmp_path: Path) -> None:
    scenario = write(tmp_path, "scenario.yaml", "$asset_library_name: absent\nA:\n  $number: 1\n")
    diagnostics = check(scenario, [write(tmp_path, "uses.yaml", "- A\n")])
    assert found(diagnostics) == {(ERROR, "scenario.yaml", 1), (ERROR, "scenario.yaml", 2)}


def test_python_library_points_are_linted(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pylib.py",
        """\
        from pydantic import confloat
        from tiro.core import Entity
        from tiro.core.model import Telemetry


        class A(Entity):
            Empty: Telemetry(confloat(gt=1, lt=1))
            High: Telemetry(confloat(ge=0, le=1)) = 2.5
        """,
    )
    scenario = write(tmp_path, "scenario.yaml", "$asset_library_name: pylib\nA:\n  $type: A\n")
    diagnostics = check(scenario, [write(tmp_path, "uses.yaml", "- A: [Empty, High]\n")])
    assert found(diagnostics) == {(ERROR, "pylib.py", 7), (ERROR, "pylib.py", 8)}


def test_value_and_range_problems() -> None:
    number = PointDef("N", "Telemetry", "float", ge=0, lt=10)
    assert value_problem(number, 5) is None
    assert value_problem(number, 10) == "10 is not < 10"
    assert value_problem(number, True) == "True is not a float"
    assert value_problem(number, float("nan")) is not None
    assert value_problem(PointDef("E", "Attribute", "enum", choices=("a",)), "b") is not None
    assert value_problem(PointDef("B", "Attribute", "bool"), 1) == "1 is not a bool"
    assert value_problem(PointDef("X", "Attribute", "any", py_type=list[int]), ["x"]) is not None
    assert value_problem(PointDef("X", "Attribute", "any", py_type=list[int]), [1]) is None
    assert range_problem(number) is None
    assert range_problem(PointDef("R", "Telemetry", "int", ge=3, le=3)) is None
    assert range_problem(PointDef("R", "Telemetry", "int", gt=3, le=3)) is not None

"""Tiro 0.13 Python asset libraries: the compatible API, type mapping, inheritance, and how libraries are found."""

from __future__ import annotations

import enum
import os
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field, confloat, conint, constr

from tiro.core import Entity
from tiro.core.model import Alias, Attribute, DataPointInfo, EntityList, Telemetry
from tiro.utils import RangedFloatTelemetry, RangedIntTelemetry, Unit
from tiro_models import compile_model, load_model
from tiro_models.errors import LibraryError, ScenarioError
from tiro_models.library import library_from_classes
from tiro_models.spec import ATTRIBUTE, NO_DEFAULT, TELEMETRY


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


HEADER = """\
from datetime import timedelta
from pydantic import confloat, conint
from tiro.core import Entity
from tiro.core.model import Telemetry, Attribute
from tiro.utils import RangedFloatTelemetry, Unit
"""


def library_scenario(
    directory: Path, module: str, body: str, scenario: str, uses: str, library_path: str = "./"
) -> tuple[Path, Path]:
    write(directory, module, HEADER + textwrap.dedent(body))
    name = Path(module).stem
    text = f"$asset_library_name: {name}\n$asset_library_path: {library_path}\n" + textwrap.dedent(scenario)
    return write(directory, "scenario.yaml", text), write(directory, "uses.yaml", uses)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Kinds(Entity):
    F: Telemetry(confloat(ge=0, le=50), "°C")
    Int2: Telemetry(conint(gt=0, lt=10))
    S: Attribute(constr(max_length=5))
    A: Telemetry(Annotated[float, Field(ge=1.5)])
    Str: Attribute(str)
    B: Attribute(bool)
    Int: Telemetry(int)
    Fl: Telemetry(float)
    Lit: Attribute(Literal["a", "b"])
    En: Attribute(Colour)
    Other: Telemetry(dict)


def _known(*classes: type[Entity], type_name: str) -> dict:
    model = compile_model({"X": {"$type": type_name}}, [["X"]], library=library_from_classes(*classes))
    return model.slots["X"].known_points


def test_pydantic_types_map_to_kinds_and_bounds() -> None:
    points = _known(Kinds, type_name="Kinds")
    facts = {name: (p.kind, p.ge, p.le, p.gt, p.lt, p.choices) for name, p in points.items()}
    assert facts == {
        "F": ("float", 0, 50, None, None, None),
        "Int2": ("int", None, None, 0, 10, None),
        "S": ("str", None, None, None, None, None),
        "A": ("float", 1.5, None, None, None, None),
        "Str": ("str", None, None, None, None, None),
        "B": ("bool", None, None, None, None, None),
        "Int": ("int", None, None, None, None, None),
        "Fl": ("float", None, None, None, None, None),
        "Lit": ("enum", None, None, None, None, ("a", "b")),
        "En": ("enum", None, None, None, None, ("red", "blue")),
        "Other": ("any", None, None, None, None, None),
    }
    assert points["Other"].py_type is dict
    assert points["F"].category == TELEMETRY and points["S"].category == ATTRIBUTE
    assert points["F"].unit == "°C"


def faker_function() -> float:
    return 4.2


class Helpers(Entity):
    Power: RangedFloatTelemetry(0, 1000, Unit.WATT)
    Fine: RangedFloatTelemetry(0, 1, right_digits=4)
    Count: RangedIntTelemetry(1, 5)
    Faked: Telemetry(float, faker=faker_function, time_var=timedelta(minutes=2)) = 3.5
    Plain = Attribute(str)  # no annotation: Tiro 0.13 silently ignored it
    WithNone: Telemetry(float) = None
    Described: Telemetry(float, description="a point with a description")


def test_helpers_faker_time_var_defaults_and_plain_assignment() -> None:
    points = _known(Helpers, type_name="Helpers")
    power = points["Power"]
    assert (power.kind, power.ge, power.le, power.unit, power.decimals, power.faker) == ("float", 0, 1000, "W", 2, None)
    assert points["Fine"].decimals == 4
    assert (points["Count"].kind, points["Count"].ge, points["Count"].le) == ("int", 1, 5)
    faked = points["Faked"]
    assert faked.faker is faker_function and faked.time_var == 120.0 and faked.default == 3.5
    assert points["Plain"].category == ATTRIBUTE and points["Plain"].kind == "str"
    assert points["WithNone"].default is NO_DEFAULT  # Tiro 0.13: a None default is no default
    assert points["Described"].description == "a point with a description"
    assert points["Power"].default is NO_DEFAULT


def test_unit_constants_match_tiro_013() -> None:
    assert (Unit.DEGREE_C, Unit.WATT, Unit.LITRE_PER_HOUR, Unit.KILO_WATT_HOUR) == (
        "degree Celsius",
        "W",
        "L/hr",
        "kWh",
    )
    assert (Unit.METER, Unit.CUBIC_METER, Unit.PSI, Unit.HZ, Unit.TON) == ("m", "m^3", "psi", "Hz", "ton")
    assert (Unit.WATT_PER_SQUARE_METER, Unit.WATT_PER_SQUARE_FOOT) == ("W/m^2", "W/ft^2")


def test_ranged_telemetry_with_own_faker_draws_within_range() -> None:
    from faker import Faker

    info = RangedFloatTelemetry(2, 3, faker=Faker())
    assert all(2 <= info.faker() <= 3 for _ in range(20))
    assert isinstance(info, DataPointInfo)


class Base(Entity):
    Temperature: Telemetry(confloat(ge=0, le=10), "°C")
    Shared: Telemetry(float, "A")


class Middle(Base):
    Temperature: Telemetry(confloat(ge=0, le=100), "K")


class Derived(Middle):
    Extra: Attribute(str)


class Mixin(Entity):
    Shared: Telemetry(float, "B")
    Mixed: Telemetry(int)


class Multi(Derived, Mixin):
    pass


def test_subclass_overrides_its_base_point() -> None:
    points = _known(Base, Middle, Derived, type_name="Derived")
    assert (points["Temperature"].unit, points["Temperature"].le) == ("K", 100)  # Tiro 0.13 kept the base's
    assert list(points) == ["Temperature", "Shared", "Extra"]


def test_multiple_bases_follow_python_order() -> None:
    points = _known(Multi, type_name="Multi")
    assert set(points) == {"Temperature", "Shared", "Extra", "Mixed"}
    assert points["Shared"].unit == "A"  # Derived comes first among the bases, as in Python attribute lookup


class Sensor(Entity):
    Reading: Telemetry(float) = 1.0
    Value: Alias("Reading")


class Rack(Entity):
    Power: Telemetry(float)
    Sensors: EntityList(Sensor, faking_number=3, ids=["s1", "s2", "s3", "s4"])
    Spare: Sensor.many(ids=["x", "y"])
    Counted: EntityList(Sensor, faking_number=lambda: 2)


def test_alias_and_entity_list_children_can_be_required() -> None:
    library = library_from_classes(Rack, Sensor)
    model = compile_model(
        {"R": {"$type": "Rack"}}, [["R.Power", "R.Sensors.Value", "R.Spare.Reading", "R.Counted"]], library=library
    )
    assert list(model.points) == ["R.Power", "R.Sensors.Value", "R.Spare.Reading"]
    value = model.points["R.Sensors.Value"]
    assert value.name == "Value" and value.default == 1.0
    assert (model.slots["R.Sensors"].number, model.slots["R.Sensors"].ids) == ((3, 3), ("s1", "s2", "s3", "s4"))
    assert (model.slots["R.Spare"].number, model.slots["R.Spare"].ids) == ((2, 2), ("x", "y"))
    assert model.slots["R.Counted"].number == (2, 2)
    assert model.slots["R.Counted"].points == {}


def test_entity_list_rejects_more_than_its_ids() -> None:
    with pytest.raises(ValueError, match="at most"):
        EntityList(Sensor, faking_number=3, ids=["a"])


def test_update_defaults_does_not_touch_bases_or_siblings() -> None:
    class Parent(Entity):
        P: Telemetry(float) = 1.0

    class ChildA(Parent):
        pass

    class ChildB(Parent):
        pass

    ChildA.update_defaults(P=5.0)
    library = library_from_classes(Parent, ChildA, ChildB)
    assert library.resolve("ChildA").points["P"].default == 5.0
    assert library.resolve("ChildB").points["P"].default == 1.0
    assert library.resolve("Parent").points["P"].default == 1.0


def test_point_source_names_file_and_line(tmp_path: Path) -> None:
    body = """\

    class Server(Entity):
        FlowRate: RangedFloatTelemetry(0, 1000, Unit.LITRE_PER_HOUR)
        Temperature = Telemetry(confloat(ge=0, le=50), "°C")
    """
    scenario, uses = library_scenario(
        tmp_path, "lib_source.py", body, "S:\n  $type: Server\n", "- S: [FlowRate, Temperature]\n"
    )
    model = load_model(scenario, [uses])
    flow = model.points["S.FlowRate"].definition.source
    assert (Path(flow.file).name, flow.line) == ("lib_source.py", 8)
    assert model.points["S.Temperature"].definition.source.line == 9


def test_library_relative_to_the_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = "class Box(Entity):\n    Weight: Telemetry(float, 'kg')\n"
    scenario, uses = library_scenario(
        tmp_path / "project", "libs/boxes.py", body, "B:\n  $type: Box\n", "- B: [Weight]\n", "libs"
    )
    monkeypatch.chdir(tmp_path)  # elsewhere: the library is found next to the scenario file, not the CWD
    model = load_model(scenario, [uses])
    assert model.points["B.Weight"].unit == "kg"


def test_library_falls_back_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "work", "cwd_lib.py", HEADER + "class Box(Entity):\n    Weight: Telemetry(float, 'lb')\n")
    scenario = write(
        tmp_path / "elsewhere",
        "scenario.yaml",
        "$asset_library_name: cwd_lib\n$asset_library_path: ./\nB:\n  $type: Box\n",
    )
    uses = write(tmp_path / "elsewhere", "uses.yaml", "- B.Weight\n")
    monkeypatch.chdir(tmp_path / "work")
    assert load_model(scenario, [uses]).points["B.Weight"].unit == "lb"


def test_two_libraries_with_the_same_module_name_in_one_process(tmp_path: Path) -> None:
    before = list(sys.path)
    models = []
    for unit in ("°C", "K"):
        body = f"class Thing(Entity):\n    T: Telemetry(float, {unit!r})\n"
        scenario, uses = library_scenario(
            tmp_path / unit.strip("°"), "same_name.py", body, "X:\n  $type: Thing\n", "- X: [T]\n"
        )
        models.append(load_model(scenario, [uses]))
    assert [m.points["X.T"].unit for m in models] == ["°C", "K"]
    assert sys.path == before
    assert "same_name" not in sys.modules


def test_library_sibling_modules_do_not_collide(tmp_path: Path) -> None:
    units = []
    for unit in ("W", "kW"):
        directory = tmp_path / unit
        write(directory, "helpers.py", f"UNIT = {unit!r}\n")
        body = "from helpers import UNIT\n\nclass Thing(Entity):\n    P: Telemetry(float, UNIT)\n"
        scenario, uses = library_scenario(directory, "lib_with_helper.py", body, "X:\n  $type: Thing\n", "- X.P\n")
        units.append(load_model(scenario, [uses]).points["X.P"].unit)
    assert units == ["W", "kW"]
    assert "helpers" not in sys.modules


def test_package_library_with_submodules(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/common.py", HEADER + "class Base(Entity):\n    Power: Telemetry(float, 'W')\n")
    write(
        tmp_path,
        "pkg/rooms.py",
        "from .common import Base\nfrom tiro.core.model import Attribute\n\n"
        "class Room(Base):\n    Name: Attribute(str)\n",
    )
    scenario = write(tmp_path, "scenario.yaml", "$asset_library_name: pkg\nR:\n  $type: rooms.Room\n")
    model = load_model(scenario, [write(tmp_path, "uses.yaml", "- R: [Power, Name]\n")])
    assert list(model.points) == ["R.Power", "R.Name"]
    with pytest.raises(ScenarioError, match=r"nope") as info:
        load_model(write(tmp_path, "bad.yaml", "$asset_library_name: pkg\nR:\n  $type: nope.Room\n"), [])
    assert info.value.line == 3


def test_missing_library_names_name_paths_and_scenario_line(tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        "scenario.yaml",
        "# comment\n$asset_library_name: not_there\n$asset_library_path: libs\nA:\n  $type: X\n",
    )
    with pytest.raises(LibraryError) as info:
        load_model(scenario, [])
    text = str(info.value)
    assert "'not_there'" in text and str(tmp_path / "libs" / "not_there.py") in text
    assert (info.value.file, info.value.line) == (str(scenario), 2)


def test_library_raising_on_import_gives_the_exception_text_and_line(tmp_path: Path) -> None:
    scenario, uses = library_scenario(
        tmp_path, "broken_lib.py", "\nraise RuntimeError('no coffee')\n", "A:\n  $type: X\n", "- A\n"
    )
    with pytest.raises(LibraryError) as info:
        load_model(scenario, [uses])
    assert "RuntimeError: no coffee" in str(info.value)
    assert (Path(info.value.file).name, info.value.line) == ("broken_lib.py", 7)
    assert "scenario.yaml:1" in str(info.value)
    assert not any("broken_lib" in name for name in sys.modules)


def test_library_with_syntax_error(tmp_path: Path) -> None:
    scenario, uses = library_scenario(tmp_path, "syntax_lib.py", "class (:\n", "A:\n  $type: X\n", "- A\n")
    with pytest.raises(LibraryError, match="SyntaxError") as info:
        load_model(scenario, [uses])
    assert info.value.line == 6


def test_library_calling_sys_exit_is_an_error(tmp_path: Path) -> None:
    scenario, uses = library_scenario(tmp_path, "exit_lib.py", "import sys\nsys.exit(3)\n", "A:\n  $type: X\n", "- A\n")
    with pytest.raises(LibraryError, match="SystemExit"):
        load_model(scenario, [uses])


def test_bad_alias_is_a_library_error_with_line(tmp_path: Path) -> None:
    body = "from tiro.core.model import Alias\n\nclass A(Entity):\n    B: Alias('Nope')\n"
    scenario, uses = library_scenario(tmp_path, "alias_lib.py", body, "A:\n  $type: A\n", "- A\n")
    with pytest.raises(LibraryError, match="Nope") as info:
        load_model(scenario, [uses])
    assert info.value.line == 9


def test_not_an_entity_is_an_unknown_type(tmp_path: Path) -> None:
    scenario, uses = library_scenario(tmp_path, "notentity.py", "class A:\n    pass\n", "A:\n  $type: A\n", "- A\n")
    with pytest.raises(ScenarioError, match="not an Entity"):
        load_model(scenario, [uses])


def test_library_is_cached_until_it_changes(tmp_path: Path) -> None:
    from tiro_models.library import open_library

    write(tmp_path, "cached_lib.py", HEADER + "class A(Entity):\n    P: Telemetry(float, 'W')\n")
    first = open_library("cached_lib", None, tmp_path)
    assert open_library("cached_lib", None, tmp_path) is first
    path = write(tmp_path, "cached_lib.py", HEADER + "class A(Entity):\n    P: Telemetry(float, 'kW')\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    second = open_library("cached_lib", None, tmp_path)
    assert second is not first
    assert second.resolve("A").points["P"].unit == "kW"
    assert first.resolve("A").points["P"].unit == "W"


def test_string_annotations_are_evaluated(tmp_path: Path) -> None:
    body = (
        "from __future__ import annotations\n"
        + HEADER
        + "\nclass A(Entity):\n    P: Telemetry(confloat(ge=1, le=2), 'W')\n"
    )
    write(tmp_path, "future_lib.py", body)
    scenario = write(tmp_path, "scenario.yaml", "$asset_library_name: future_lib\nA:\n  $type: A\n")
    model = load_model(scenario, [write(tmp_path, "uses.yaml", "- A.P\n")])
    assert (model.points["A.P"].definition.ge, model.points["A.P"].definition.le) == (1, 2)


def test_time_var_as_seconds_and_bad_time_var() -> None:
    class Good(Entity):
        P: Telemetry(float, time_var=30)

    class Bad(Entity):
        P: Telemetry(float, time_var="soon")

    assert library_from_classes(Good).resolve("Good").points["P"].time_var == 30.0
    with pytest.raises(LibraryError, match="time_var"):
        library_from_classes(Bad).resolve("Bad")


def test_installed_module_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a library importable the ordinary way (e.g. pip-installed) is used when no file is found near the scenario
    write(tmp_path / "site", "installed_assets_lib.py", HEADER + "class A(Entity):\n    P: Telemetry(float, 'W')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = compile_model(
        {"$asset_library_name": "installed_assets_lib", "A": {"$type": "A"}}, [["A.P"]], base_dir=tmp_path
    )
    assert model.points["A.P"].unit == "W"


def test_library_named_with_py_suffix(tmp_path: Path) -> None:
    write(tmp_path, "suffixed.py", HEADER + "class A(Entity):\n    P: Telemetry(float, 'W')\n")
    scenario = write(tmp_path, "scenario.yaml", "$asset_library_name: suffixed.py\nA:\n  $type: A\n")
    assert load_model(scenario, [write(tmp_path, "uses.yaml", "- A.P\n")]).points["A.P"].unit == "W"


def test_unrelated_annotations_are_ignored_and_broken_declarations_reported(tmp_path: Path) -> None:
    body = (
        "from __future__ import annotations\n"
        + HEADER
        + "\nclass A(Entity):\n    note: Undefined\n    P: Telemetry(float)\n"
    )
    write(tmp_path, "annotated_lib.py", body)
    scenario = write(tmp_path, "scenario.yaml", "$asset_library_name: annotated_lib\nA:\n  $type: A\n")
    assert list(load_model(scenario, [write(tmp_path, "uses.yaml", "- A.P\n")]).points) == ["A.P"]
    body = "from __future__ import annotations\n" + HEADER + "\nclass A(Entity):\n    P: Telemetry(Missing)\n"
    write(tmp_path, "annotated_bad.py", body)
    scenario = write(tmp_path, "bad.yaml", "$asset_library_name: annotated_bad\nA:\n  $type: A\n")
    with pytest.raises(LibraryError, match="cannot evaluate") as info:
        load_model(scenario, [])
    assert info.value.line == 9

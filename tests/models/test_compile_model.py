"""compile_model on parsed data: the flat tables, slot specs, and independence of compiled models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiro.core import Entity
from tiro.core.model import EntityList, Telemetry
from tiro_models import compile_model
from tiro_models.errors import ScenarioError, UsesError
from tiro_models.library import library_from_classes
from tiro_models.library.yaml_library import YamlLibrary

LIBRARY = """\
Hall:
  points:
    Temperature: {ge: 0, le: 50, unit: "°C"}
Rack:
  points:
    Power: {ge: 0, le: 1000, unit: W, default: 5}
    Front: {unit: "°C"}
"""


@pytest.fixture
def yaml_library(tmp_path: Path) -> YamlLibrary:
    path = tmp_path / "lib.yaml"
    path.write_text(LIBRARY)
    return YamlLibrary("lib.yaml", path)


def test_plain_dicts_compile_without_line_information(yaml_library: YamlLibrary) -> None:
    scenario = {"Hall": {"$type": "Hall", "Rack": {"$type": "Rack", "$number": "2-3", "$defaults": {"Power": 9}}}}
    model = compile_model(scenario, [[{"Hall": ["Temperature", {"Rack": ["Power"]}]}]], library=yaml_library)
    assert list(model.points) == ["Hall.Temperature", "Hall.Rack.Power"]
    power = model.points["Hall.Rack.Power"]
    assert (power.type_path, power.slot_path, power.name, power.default) == ("Hall.Rack.Power", "Hall.Rack", "Power", 9)
    assert power.definition.default == 5
    rack = model.slots["Hall.Rack"]
    assert rack.number == (2, 3) and rack.asset_types == ("Rack",)
    assert set(rack.known_points) == {"Power", "Front"}
    assert rack.points["Power"] is power
    assert model.roots["Hall"].children["Rack"] is rack
    assert model.scenario_file is None
    with pytest.raises(ScenarioError) as info:
        compile_model({"Hall": {}}, [], library=yaml_library)
    assert (info.value.file, info.value.line) == (None, None)


def test_compiled_models_are_independent(yaml_library: YamlLibrary) -> None:
    scenario = {"Hall": {"$type": "Hall", "Rack": {"$type": "Rack"}}}
    first = compile_model(scenario, [["Hall.Rack.Power"]], library=yaml_library)
    second = compile_model(scenario, [["Hall.Rack.Front"]], library=yaml_library)
    first.slots["Hall.Rack"].known_points.clear()
    assert set(second.slots["Hall.Rack"].known_points) == {"Power", "Front"}
    assert list(first.points) == ["Hall.Rack.Power"] and list(second.points) == ["Hall.Rack.Front"]


def test_repeated_uses_are_deduplicated(yaml_library: YamlLibrary) -> None:
    scenario = {"Hall": {"$type": "Hall", "Rack": {"$type": "Rack"}}}
    model = compile_model(scenario, [["Hall.Rack.Power", "Hall.Rack.Power"], ["Hall.Rack.Power"]], library=yaml_library)
    assert list(model.points) == ["Hall.Rack.Power"] and model.uses == ("Hall.Rack.Power",)


def test_large_type_level_model(yaml_library: YamlLibrary, tmp_path: Path) -> None:
    lines = ["Big:", "  points:"] + [f"    P{i}: {{ge: 0, le: {i + 1}}}" for i in range(2000)]
    (tmp_path / "big.yaml").write_text("\n".join(lines))
    library = YamlLibrary("big.yaml", tmp_path / "big.yaml")
    scenario = {f"S{i}": {"$type": "Big"} for i in range(20)}
    uses = [[{f"S{i}": [f"P{j}" for j in range(2000)]} for i in range(20)]]
    model = compile_model(scenario, uses, library=library)
    assert len(model.points) == 40_000
    assert model.points["S19.P1999"].definition.le == 2000


class Node(Entity):
    Value: Telemetry(float)


# a self-referencing child declaration, as a library describing a recursive tree would write it
Node.__annotations__["Next"] = EntityList(Node, faking_number=2)


def test_self_referencing_child_declaration_terminates() -> None:
    model = compile_model(
        {"Root": {"$type": "Node"}}, [["Root.Next.Next.Next.Value"]], library=library_from_classes(Node)
    )
    assert list(model.points) == ["Root.Next.Next.Next.Value"]
    assert model.slots["Root.Next.Next"].number == (2, 2)


def test_scenario_children_take_precedence_over_declared_ones() -> None:
    model = compile_model(
        {"Root": {"$type": "Node", "Next": {"$type": "Node", "$number": 7}}},
        [["Root.Next.Value", "Root.Next.Next.Value"]],
        library=library_from_classes(Node),
    )
    assert model.slots["Root.Next"].number == (7, 7)
    assert model.slots["Root.Next.Next"].number == (2, 2)


def test_absurd_nesting_is_an_input_error(yaml_library: YamlLibrary) -> None:
    slot: dict = {"$type": "Hall"}
    uses: list = ["Temperature"]
    for _ in range(3000):
        slot = {"$type": "Hall", "Child": slot}
        uses = [{"Hall": uses}]
    with pytest.raises(ScenarioError, match="too deeply"):
        compile_model({"Hall": slot}, [], library=yaml_library)
    with pytest.raises(UsesError, match="too deeply"):
        compile_model({"Hall": {"$type": "Hall"}}, [uses], library=yaml_library)

"""Tiro 0.13's loading-related acceptance scripts (spec §8) turned into assertions, plus the datahall example."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import confloat

from tiro.core import Entity, Scenario
from tiro.core.model import Attribute, EntityList, Telemetry
from tiro_models import compile_model, load_model
from tiro_models.library import library_from_classes
from tiro_models.spec import ATTRIBUTE, TELEMETRY, Model

DATA = Path(__file__).parent / "data" / "loading"
UPSTREAM_TEST = DATA / "test"
DATAHALL = Path(__file__).resolve().parents[2] / "scenarios" / "datahall"

USE1_PATHS = [
    "Room.Rack.FrontTemperature",
    "Room.Rack.BackTemperature",
    "Room.Rack.Server.CPUTemperature",
    "Room.Rack.Server.MemoryTemperature",
    "Room.Server.CPUTemperature",
    "Room.Server.MemoryTemperature",
    "Room.Temperature",
    "Room.Site",
]


def test_auto_gen_assets_gives_the_eight_type_paths_in_file_order() -> None:
    model = load_model(UPSTREAM_TEST / "test-scenario.yaml", [UPSTREAM_TEST / "test-use1.yaml"])
    assert list(model.uses) == USE1_PATHS
    assert list(model.points) == USE1_PATHS
    assert model.points["Room.Site"].category == ATTRIBUTE
    assert model.points["Room.Temperature"].category == TELEMETRY
    assert model.points["Room.Rack.Server.CPUTemperature"].unit == "°C"


def test_demo_library_package_with_dotted_types() -> None:
    model = load_model(UPSTREAM_TEST / "test-scenario.yaml", [UPSTREAM_TEST / "test-use1.yaml"])
    assert model.slots["Room"].asset_types == ("data_hall.Room",)
    assert model.slots["Room.Rack"].number == (10, 10)
    assert model.slots["Room.Rack.Server"].number == (2, 20)
    assert model.slots["Room.Server"].number == (5, 5)
    server = model.slots["Room.Server"]
    assert set(server.known_points) == {"CPUTemperature", "MemoryTemperature", "FanSpeed", "ModelName"}
    fan = server.known_points["FanSpeed"]
    assert (fan.kind, fan.ge, fan.le) == ("int", 0, 10000)


def test_defaults_are_scoped_to_their_slot_check_12() -> None:
    model = load_model(UPSTREAM_TEST / "test-scenario.yaml", [UPSTREAM_TEST / "test-use1.yaml"])
    assert model.points["Room.Rack.Server.CPUTemperature"].default == 20
    # the library default (0), not the other slot's $defaults: Tiro 0.13 leaked 20 here
    assert model.points["Room.Server.CPUTemperature"].default == 0
    assert not model.points["Room.Rack.Server.MemoryTemperature"].has_default


def test_ids_restrict_the_slot_check_12(tmp_path: Path) -> None:
    scenario = {
        "Room": {
            "$type": "data_hall.Room",
            "Rack": {"$type": "data_hall.Rack", "$ids": ["a", "b", "c"]},
            "Server": {"$type": "data_hall.Server", "$ids": ["s1", "s2"], "$number": 1},
        }
    }
    uses = [["Room.Rack.FrontTemperature", "Room.Server.CPUTemperature"]]
    library_root = DATA / "demo"
    model = compile_model({"$asset_library_name": "assets", "$asset_library_path": str(library_root), **scenario}, uses)
    assert model.slots["Room.Rack"].ids == ("a", "b", "c")
    assert model.slots["Room.Rack"].number == (3, 3)  # all ids are used (Tiro 0.13 used only the first)
    assert model.slots["Room.Server"].ids == ("s1", "s2")
    assert model.slots["Room.Server"].number == (1, 1)


class Server(Entity):
    CPUTemperature: Telemetry(confloat(ge=0, le=50), "°C") = 10
    MemoryTemperature: Telemetry(confloat(ge=0, le=50), "°C")


class Rack(Entity):
    FrontTemperature: Telemetry(confloat(ge=0, le=50), "°C")
    BackTemperature: Telemetry(confloat(ge=0, le=50), "°C")


class Room(Entity):
    Temperature: Telemetry(confloat(ge=0, le=50), "°C")
    Site: Attribute(str)


def test_vocabulary_python_defined_classes_and_inline_uses() -> None:
    library = library_from_classes(Server, Rack, Room)
    scenario = {
        "Room": {
            "$type": "Room",
            "Rack": {"$type": "Rack", "Server": {"$type": "Server"}},
            "Server": {"$type": "Server"},
        }
    }
    uses = [
        ["Room.Rack.FrontTemperature"],  # upstream: scenario.Room.Rack.FrontTemperature.use()
        [
            {
                "Room": [
                    {"Rack": [{"Server": ["CPUTemperature", "MemoryTemperature"]}]},
                    {"Server": ["CPUTemperature"]},
                    "Temperature",
                    "Site",
                ]
            }
        ],
    ]
    model = compile_model(scenario, uses, library=library)
    room = model.roots["Room"]
    assert list(room.children) == ["Rack", "Server"]
    assert list(room.points) == ["Temperature", "Site"]
    assert list(room.children["Server"].points) == ["CPUTemperature"]
    assert list(room.children["Rack"].points) == ["FrontTemperature"]
    assert list(room.children["Rack"].children["Server"].points) == ["CPUTemperature", "MemoryTemperature"]
    # a point with a default is still required; its default is known
    cpu = model.points["Room.Server.CPUTemperature"]
    assert cpu.has_default and cpu.default == 10
    assert (cpu.definition.kind, cpu.definition.ge, cpu.definition.le) == ("float", 0, 50)


EXAMPLE_PATHS = [
    "DataHall.CRAC.ActivePower",
    "DataHall.Rack.ActivePower",
    "DataHall.Rack.ChilledWaterSupplyTemperature",
    "DataHall.Rack.ChilledWaterReturnTemperature",
    "DataHall.Rack.Server.FlowRate",
    "DataHall.CRAC.SupplyTemperature",
    "DataHall.CRAC.ReturnTemperature",
]


@pytest.mark.parametrize("scenario", ["scenario.yaml", "scenario-yaml-library.yaml"])
def test_datahall_example_defines_every_point_the_uses_ask_for(scenario: str) -> None:
    warnings: list[str] = []
    model = load_model(
        DATAHALL / scenario, [DATAHALL / "use-srv1.yaml", DATAHALL / "use-srv2.yaml"], strict=True, warnings=warnings
    )
    assert warnings == []
    assert list(model.points) == EXAMPLE_PATHS
    assert list(model.slots) == ["DataHall", "DataHall.CRAC", "DataHall.Rack", "DataHall.Rack.Server"]
    assert model.slots["DataHall.Rack.Server"].number == (2, 5)
    assert model.slots["DataHall.Rack"].number == (2, 2)
    flow = model.points["DataHall.Rack.Server.FlowRate"]
    assert (flow.unit, flow.definition.ge, flow.definition.le) == ("L/hr", 0, 1000)
    power = model.points["DataHall.Rack.ActivePower"]
    assert (power.unit, power.definition.ge, power.definition.le) == ("W", 0, 1000)
    # attributes the uses do not ask for are declared, but not required
    assert model.slots["DataHall"].known_points["Site"].category == ATTRIBUTE
    assert "ModelName" in model.slots["DataHall.Rack.Server"].known_points
    assert "ModelName" not in model.slots["DataHall.Rack.Server"].points


def test_both_library_forms_of_the_example_agree() -> None:
    uses = [DATAHALL / "use-srv1.yaml", DATAHALL / "use-srv2.yaml"]
    python = load_model(DATAHALL / "scenario.yaml", uses)
    declarative = load_model(DATAHALL / "scenario-yaml-library.yaml", uses)

    def facts(model: Model) -> dict:
        return {
            path: (p.category, p.definition.kind, p.definition.ge, p.definition.le, p.unit, p.default)
            for path, p in model.points.items()
        }

    assert facts(python) == facts(declarative)
    for path in python.slots:
        assert set(python.slots[path].known_points) == set(declarative.slots[path].known_points)


class VRack(Rack):
    Server: EntityList(Server, faking_number=3)


class VRoom(Room):
    Rack: VRack.many(faking_number=10)
    Server: Server.many(faking_number=5)


def test_vocabulary_through_the_tiro_013_scenario_api() -> None:
    scenario = Scenario(Room=VRoom)
    scenario.Room.Rack.FrontTemperature.use()
    scenario.requires(
        yaml="- Room:\n  - Rack: [{Server: [CPUTemperature, MemoryTemperature]}]\n  - Temperature\n  - Site\n"
    )
    scenario.requires("Room.Server.CPUTemperature", "Room.Nothing")
    assert list(scenario.all_required_paths()) == [
        "Room.Rack.FrontTemperature",
        "Room.Rack.Server.CPUTemperature",
        "Room.Rack.Server.MemoryTemperature",
        "Room.Temperature",
        "Room.Site",
        "Room.Server.CPUTemperature",
    ]
    assert "Room.Nothing" in scenario.uses  # kept, as Tiro 0.13 kept ignored paths
    assert scenario.compiled.slots["Room.Rack"].number == (10, 10)
    assert scenario.compiled.slots["Room.Rack.Server"].number == (3, 3)
    assert scenario.query_data_point_info("Room.Rack.Server.CPUTemperature").default == 10
    assert scenario.query_data_point_info("Room.Unknown") is None


def test_scenario_from_yaml_paths_and_text() -> None:
    scenario = Scenario.from_yaml(UPSTREAM_TEST / "test-scenario.yaml", UPSTREAM_TEST / "test-use1.yaml")
    assert list(scenario.all_required_paths()) == USE1_PATHS
    text = (UPSTREAM_TEST / "test-scenario.yaml").read_text().replace("../demo", str(DATA / "demo"))
    assert list(Scenario.from_yaml(text, "- Room: [Site]").all_required_paths()) == ["Room.Site"]

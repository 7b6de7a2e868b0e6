"""Upstream acceptance checks (spec §8) on real scenario files: test_generator, test_validate, test_validate_path,
further checks 2, 3, 4, 5 and 12, with the upstream example library and the deleted demo library rebuilt."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.records import decompose
from tiro_models.validate import Collector, validate

UPSTREAM = Path(__file__).resolve().parents[1] / "data" / "upstream-example"  # Tiro 0.13's example files
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# Upstream's example library (example/test_assets.py): Rack has only ActivePower, so use-srv2's chilled-water
# points are unknown leaves and Rack gets no telemetry from srv2.
EXAMPLE_LIBRARY = """
from tiro.core import Entity
from tiro.utils import RangedFloatTelemetry, Unit


class DataHall(Entity):
    pass


class Rack(Entity):
    ActivePower: RangedFloatTelemetry(0, 1000, Unit.WATT)


class Server(Entity):
    FlowRate: RangedFloatTelemetry(0, 1000, "L/s")


class CRAC(Entity):
    ActivePower: RangedFloatTelemetry(0, 1000, Unit.WATT)
    SupplyTemperature: RangedFloatTelemetry(0, 50, "°C")
    ReturnTemperature: RangedFloatTelemetry(0, 50, "°C")
"""

# The deleted ../demo/assets/data_hall.py, rebuilt from spec §8.
DEMO_LIBRARY = """
from faker import Faker
from pydantic import confloat, conint

from tiro.core import Entity
from tiro.core.model import Attribute, Telemetry

faker = Faker()
temperature = confloat(ge=0, le=50)


def fake_temperature():
    return faker.pyfloat(right_digits=2, min_value=0, max_value=50)


class Server(Entity):
    CPUTemperature: Telemetry(temperature, "°C", faker=fake_temperature) = 0
    MemoryTemperature: Telemetry(temperature, "°C", faker=fake_temperature)
    FanSpeed: Telemetry(conint(ge=0, le=10000), "RPM", faker=lambda: faker.pyint(0, 10000))
    ModelName: Attribute(str, faker=faker.company)


class Rack(Entity):
    FrontTemperature: Telemetry(temperature, "°C", faker=fake_temperature)
    BackTemperature: Telemetry(temperature, "°C", faker=fake_temperature)


class Room(Entity):
    Temperature: Telemetry(temperature, "°C", faker=fake_temperature)
    Site: Attribute(str, faker=faker.company)
"""


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("upstream_example")
    for name in ("scenario.yaml", "use-srv1.yaml", "use-srv2.yaml"):
        shutil.copy(UPSTREAM / name, root / name)
    (root / "test_assets.py").write_text(textwrap.dedent(EXAMPLE_LIBRARY), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("upstream_test")
    (root / "test").mkdir()
    shutil.copy(UPSTREAM / "test-scenario.yaml", root / "test" / "scenario.yaml")
    shutil.copy(UPSTREAM / "test-use1.yaml", root / "test" / "use1.yaml")
    (root / "demo" / "assets").mkdir(parents=True)
    (root / "demo" / "assets" / "__init__.py").write_text("", encoding="utf-8")
    (root / "demo" / "assets" / "data_hall.py").write_text(textwrap.dedent(DEMO_LIBRARY), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def demo_model(demo_dir):
    return load_model(demo_dir / "test" / "scenario.yaml", [demo_dir / "test" / "use1.yaml"])


@pytest.fixture(scope="module")
def example_model(example_dir):
    return load_model(example_dir / "scenario.yaml", [example_dir / "use-srv1.yaml", example_dir / "use-srv2.yaml"])


# ------------------------------------------------------------------------------------------ test/ scripts
def test_auto_gen_assets_type_paths_in_file_order(demo_model) -> None:
    assert list(demo_model.uses) == [
        "Room.Rack.FrontTemperature",
        "Room.Rack.BackTemperature",
        "Room.Rack.Server.CPUTemperature",
        "Room.Rack.Server.MemoryTemperature",
        "Room.Server.CPUTemperature",
        "Room.Server.MemoryTemperature",
        "Room.Temperature",
        "Room.Site",
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generator(demo_model, seed) -> None:
    instances = instantiate(demo_model, seed=seed)
    snapshot = Mocker(instances, seed=seed).snapshot(skip_defaults=True, use_defaults=False, now=NOW)
    assert validate(demo_model, snapshot).valid
    assert validate(demo_model, snapshot, strict=True, now=NOW, max_age=60).valid
    rooms = snapshot["Room"]
    assert list(rooms) == ["room_0"]
    room = rooms["room_0"]
    assert list(room["Rack"]) == [f"rack_{i}" for i in range(10)]
    rack_servers = [list(rack["Server"]) for rack in room["Rack"].values()]
    assert all(2 <= len(ids) <= 20 for ids in rack_servers)
    flat_ids = [i for ids in rack_servers for i in ids]
    total = len(flat_ids)
    assert flat_ids == [f"server_{i}" for i in range(total)]  # numbered globally across racks
    assert list(room["Server"]) == [f"server_{i}" for i in range(total, total + 5)]  # and continued by Room.Server
    for server in [*room["Server"].values(), *(s for r in room["Rack"].values() for s in r["Server"].values())]:
        assert set(server["Telemetry"]) == {"MemoryTemperature"}  # CPUTemperature has a default
        assert server["Telemetry"]["MemoryTemperature"]["unit"] == "°C"
    assert room["Telemetry"]["Temperature"]["unit"] == "°C"
    assert isinstance(room["Attribute"]["Site"]["value"], str)


def test_generator_is_reproducible_with_library_fakers(demo_model) -> None:
    def make():
        return Mocker(instantiate(demo_model, seed=9), seed=9).snapshot(now=NOW)

    assert make() == make()


def test_validate(demo_model) -> None:
    mocker = Mocker(instantiate(demo_model, seed=4), seed=4)
    collector = Collector()
    for path in mocker.data_point_paths(skip_defaults=True):
        collector.collect(path, mocker.point(path, now=NOW))
    result = validate(demo_model, collector.snapshot())
    assert result.valid
    assert str(result).endswith("Successful!")
    assert result.counts["received"] == len(collector)


def test_validate_path(demo_model) -> None:
    mocker = Mocker(instantiate(demo_model, seed=4), seed=4)
    existing = set(mocker.data_point_paths(skip_defaults=True))
    missing = [p for p in mocker.data_point_paths(skip_defaults=False) if p not in existing]
    assert missing and all(".Server." in p and p.endswith(".Telemetry.CPUTemperature") for p in missing)
    assert len(missing) == sum(1 for a in mocker.instances.assets if a.slot.name == "Server")
    rack_server = next(p for p in missing if ".Rack." in p)
    room_server = next(p for p in missing if ".Rack." not in p)
    (record,) = decompose(rack_server, mocker.point(rack_server, now=NOW))
    assert record["path"] == "Room.Rack.Server.CPUTemperature"
    assert record["value"] == 20  # the slot's $defaults
    assert record["unit"] == "°C" and record["type"] == "Telemetry" and record["field"] == "CPUTemperature"
    assert mocker.point(room_server, now=NOW)["value"] == 0  # the library default: $defaults did not leak


# ------------------------------------------------------------------------------------------ further checks
def test_check_2_compact_example(example_model) -> None:
    for seed in range(5):
        snapshot = Mocker(instantiate(example_model, seed=seed), seed=seed).snapshot(now=NOW)
        hall = Mocker.compact(snapshot)["DataHall"]
        assert list(hall) == ["data_hall_0"]
        crac = hall["data_hall_0"]["CRAC"]
        assert list(crac) == ["crac_0"]
        assert set(crac["crac_0"]) == {"ReturnTemperature", "SupplyTemperature", "ActivePower"}
        racks = hall["data_hall_0"]["Rack"]
        assert list(racks) == ["rack_0", "rack_1"]
        server_ids = []
        for rack in racks.values():
            assert "ActivePower" in rack
            assert 2 <= len(rack["Server"]) <= 5
            assert all(set(server) == {"FlowRate"} for server in rack["Server"].values())
            server_ids.extend(rack["Server"])
        assert server_ids == [f"server_{i}" for i in range(len(server_ids))]


def test_check_3_point_listing_and_values(example_model) -> None:
    mocker = Mocker(instantiate(example_model, seed=1), seed=1)
    paths = mocker.data_point_paths()
    crac = "DataHall.data_hall_0.CRAC.crac_0.Telemetry."
    assert paths[:3] == [crac + "ActivePower", crac + "SupplyTemperature", crac + "ReturnTemperature"]
    rest = paths[3:]
    expected: list[str] = []
    for rack in ("rack_0", "rack_1"):
        base = f"DataHall.data_hall_0.Rack.{rack}"
        expected.append(f"{base}.Telemetry.ActivePower")
        expected.extend(p for p in rest if p.startswith(f"{base}.Server."))
    assert rest == expected
    for path in paths:
        dp = mocker.point(path, now=NOW)
        assert set(dp) >= {"value", "timestamp"}
        assert 0 <= dp["value"] <= 1000 and round(dp["value"], 2) == dp["value"]
    assert mocker.point("DataHall.data_hall_0.CRAC.crac_7.Telemetry.ActivePower") is None


def test_check_4_srv1_and_srv2_model_against_srv2_data(example_dir, example_model) -> None:
    srv2 = load_model(example_dir / "scenario.yaml", [example_dir / "use-srv2.yaml"])
    snapshot = Mocker(instantiate(srv2, seed=3), seed=3).snapshot(now=NOW)
    result = validate(example_model, snapshot)
    assert not result.valid
    assert [e["loc"] for e in result.to_dict()["exception"]] == [
        ["DataHall", "data_hall_0", "CRAC", "crac_0", "Telemetry", "ActivePower"],
        ["DataHall", "data_hall_0", "Rack", "rack_0", "Telemetry"],
        ["DataHall", "data_hall_0", "Rack", "rack_1", "Telemetry"],
    ]
    assert [e["path"] for e in result.to_dict()["errors"]] == [
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower",
        "DataHall.data_hall_0.Rack.rack_0.Telemetry",
        "DataHall.data_hall_0.Rack.rack_1.Telemetry",
    ]


def test_check_5_range_type_timestamp_errors_and_unknown_points(example_model) -> None:
    snapshot = Mocker(instantiate(example_model, seed=2), seed=2).snapshot(now=NOW)
    crac = snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]
    crac["Humidity"] = {"value": 40, "timestamp": "2024-05-01T12:00:00"}
    assert validate(example_model, snapshot).valid  # an unknown point passes in lenient mode
    crac["ActivePower"]["value"] = 1000.01
    crac["SupplyTemperature"]["value"] = "warm"
    crac["ReturnTemperature"]["timestamp"] = "not a time"
    result = validate(example_model, snapshot)
    assert [(e["loc"][-2:], e["type"], e["msg"]) for e in result.to_dict()["exception"]] == [
        (["ActivePower", "value"], "value_error.number.not_le", "ensure this value is less than or equal to 1000"),
        (["SupplyTemperature", "value"], "type_error.float", "value is not a valid float"),
        (["ReturnTemperature", "timestamp"], "value_error.datetime", "invalid datetime format"),
    ]
    strict = validate(example_model, snapshot, strict=True)
    assert ("DataHall.data_hall_0.CRAC.crac_0.Telemetry.Humidity", "unknown_point") in [
        (e.path, e.type) for e in strict.errors
    ]


def test_check_12_ids_and_defaults(tmp_path, example_dir) -> None:
    scenario = (example_dir / "scenario.yaml").read_text(encoding="utf-8")
    scenario = scenario.replace("    $type: CRAC", "    $type: CRAC\n    $ids: [crac-north, crac-south]")
    scenario = scenario.replace("    $type: Rack\n", "    $type: Rack\n    $defaults:\n      ActivePower: 0\n")
    (tmp_path / "scenario.yaml").write_text(scenario, encoding="utf-8")
    shutil.copy(example_dir / "test_assets.py", tmp_path / "test_assets.py")
    model = load_model(tmp_path / "scenario.yaml", [example_dir / "use-srv1.yaml", example_dir / "use-srv2.yaml"])
    mocker = Mocker(instantiate(model, seed=1), seed=1)
    snapshot = mocker.snapshot(now=NOW)
    assert list(snapshot["DataHall"]["data_hall_0"]["CRAC"]) == ["crac-north"]
    assert validate(model, snapshot).valid
    # $defaults points are skipped by default, and included with skip_defaults=False
    assert not any(p.endswith("Rack.rack_0.Telemetry.ActivePower") for p in mocker.data_point_paths())
    assert "DataHall.data_hall_0.Rack.rack_0.Telemetry.ActivePower" in mocker.data_point_paths(skip_defaults=False)
    full = mocker.snapshot(skip_defaults=False, now=NOW)
    assert full["DataHall"]["data_hall_0"]["Rack"]["rack_0"]["Telemetry"]["ActivePower"]["value"] == 0
    # ids outside $ids are rejected at [.., CRAC, "__key__"]
    cracs = snapshot["DataHall"]["data_hall_0"]["CRAC"]
    cracs["crac_0"] = cracs.pop("crac-north")
    result = validate(model, snapshot)
    assert [e["loc"] for e in result.to_dict()["exception"]] == [["DataHall", "data_hall_0", "CRAC", "__key__"]]
    assert result.errors[0].path == "DataHall.data_hall_0.CRAC.crac_0"


def test_example_scenario_of_this_repository_round_trips() -> None:
    root = Path(__file__).resolve().parents[2] / "scenarios" / "datahall"
    uses = [root / "use-srv1.yaml", root / "use-srv2.yaml"]
    for scenario in ("scenario.yaml", "scenario-yaml-library.yaml"):
        model = load_model(root / scenario, uses)
        snapshot = Mocker(instantiate(model, seed=5), seed=5).snapshot(now=NOW)
        assert validate(model, snapshot, strict=True, now=NOW, max_age=120).valid

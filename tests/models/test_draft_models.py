"""draft: exact upstream outputs for the example CSV (tiro-upstream §7, §8 check 1) and the fixes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tiro_models.draft import draft, dump_yaml, format_name, to_camel
from tiro_models.errors import InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "upstream-example" / "snapshot.csv"
HEADER = "data_point,asset,asset_type,parent_asset,value\n"


@pytest.fixture
def example_csv(tmp_path: Path) -> Path:
    # A copy, so the test does not depend on the shared folder existing on every machine.
    rows = [
        "Supply Temperature,crac_1,CRAC,data_hall,15",
        "Supply Temperature,crac_2,CRAC,data_hall,17",
        "Supply Temperature,crac_3,CRAC,data_hall,16.5",
        "Supply Temperature,crac_4,CRAC,data_hall,15",
        "CPU Temperature,server_1,Server,rack,80",
        "CPU Temperature,server_2,Server,rack,60",
        "CPU Temperature,server_3,Server,rack,67",
        "CPU Temperature,server_4,Server,rack,55",
        "Active Power,rack,Rack,data_hall,10000",
        "Active Power,crac_1,CRAC,data_hall,3000",
        "Active Power,crac_2,CRAC,data_hall,4000",
        "Active Power,crac_3,CRAC,data_hall,6000",
        "Active Power,crac_4,CRAC,data_hall,4300",
        "Temperature,data_hall,DataHall,,23",
    ]
    path = tmp_path / "snapshot.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    if EXAMPLE.exists():
        assert path.read_text().strip() == EXAMPLE.read_text().strip()
    return path


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_scenario(example_csv):
    assert draft(example_csv).scenario == {
        "DataHall": {
            "$type": "DataHall",
            "$number": 1,
            "CRAC": {"$type": "CRAC", "$number": 4},
            "Rack": {"$type": "Rack", "$number": 1, "Server": {"$type": "Server", "$number": 4}},
        }
    }


def test_example_uses(example_csv):
    assert draft(example_csv).uses == [
        {
            "DataHall": [
                {"CRAC": ["Active Power", "Supply Temperature"]},
                {"Rack": ["Active Power", {"Server": ["CPU Temperature"]}]},
                "Temperature",
            ]
        }
    ]


def test_example_reference(example_csv):
    reference = draft(example_csv).reference
    crac = {f"crac_{i}": {"DataPoints": ["Supply Temperature", "Active Power"]} for i in range(1, 5)}
    servers = {f"server_{i}": {"DataPoints": ["CPU Temperature"]} for i in range(1, 5)}
    assert reference["tree"] == {
        "DataHall": {
            "data_hall": {
                "DataPoints": ["Temperature"],
                "CRAC": crac,
                "Rack": {"rack": {"DataPoints": ["Active Power"], "Server": servers}},
            }
        }
    }
    assert reference["value_range"] == {
        "DataHall.CRAC.Supply Temperature": {"min": 15.0, "max": 17.0},
        "DataHall.CRAC.Active Power": {"min": 3000.0, "max": 6000.0},
        "DataHall.Rack.Server.CPU Temperature": {"min": 55.0, "max": 80.0},
        "DataHall.Rack.Active Power": {"min": 10000.0, "max": 10000.0},
        "DataHall.Temperature": {"min": 23.0, "max": 23.0},
    }
    assert len(reference["uuid_map"]) == 14
    assert reference["uuid_map"]["crac_1.Active Power"] == "DataHall.data_hall.CRAC.crac_1.Active Power"
    assert reference["uuid_map"]["server_4.CPU Temperature"] == (
        "DataHall.data_hall.Rack.rack.Server.server_4.CPU Temperature"
    )


def test_dump_yaml_sorts_keys_like_upstream(example_csv):
    text = dump_yaml(draft(example_csv).scenario)
    assert text.splitlines()[:4] == ["DataHall:", "  $number: 1", "  $type: DataHall", "  CRAC:"]
    assert yaml.safe_load(text) == draft(example_csv).scenario
    assert "°C" in dump_yaml({"unit": "°C"})


def test_asset_library_option(example_csv):
    scenario = draft(example_csv, asset_library="./libs/test_assets").scenario
    assert scenario["$asset_library_name"] == "test_assets"
    assert scenario["$asset_library_path"] == "libs"
    scenario = draft(example_csv, asset_library="test_assets").scenario
    assert scenario["$asset_library_name"] == "test_assets" and "$asset_library_path" not in scenario


def test_camel_name_style(example_csv):
    result = draft(example_csv, name_style="camel")
    assert result.uses == [
        {
            "DataHall": [
                {"CRAC": ["ActivePower", "SupplyTemperature"]},
                {"Rack": ["ActivePower", {"Server": ["CPUTemperature"]}]},
                "Temperature",
            ]
        }
    ]
    assert "DataHall.CRAC.SupplyTemperature" in result.reference["value_range"]
    assert result.reference["uuid_map"]["crac_1.ActivePower"] == "DataHall.data_hall.CRAC.crac_1.ActivePower"
    with pytest.raises(ValueError, match="name_style"):
        draft(example_csv, name_style="snake")


def test_names_are_cleaned_like_upstream():
    assert format_name("rack/1") == "rack_1"
    assert format_name("pdu & 1") == "pdu _ 1"
    assert format_name("Supply   Temperature") == "Supply Temperature"
    assert format_name("a.b\\c") == "a_b_c"
    assert to_camel("supply temp") == "SupplyTemp"
    assert to_camel("CPU Temperature") == "CPUTemperature"
    assert to_camel("rack_power") == "RackPower"


def test_numeric_ranges_ignore_non_numeric_cells(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "Status,crac_1,CRAC,hall,OK\n"
        + "Status,crac_2,CRAC,hall,FAULT\n"
        + "Power,crac_1,CRAC,hall,12.5\n"
        + "Power,crac_2,CRAC,hall,n/a\n"
        + "Power,crac_3,CRAC,hall,off\n"
        + "Power,crac_4,CRAC,hall,-3\n"
        + ",hall,DataHall,,\n",
    )
    result = draft(path)
    assert result.reference["value_range"] == {"DataHall.CRAC.Power": {"min": -3.0, "max": 12.5}}


def test_parents_without_rows_become_containers(tmp_path):
    path = write(
        tmp_path, HEADER + "Power,rack_1,Rack,room_2,5\nPower,rack_2,Rack,room_2,6\nPower,rack_3,Rack,hall,7\n"
    )
    result = draft(path)
    assert result.scenario == {
        "Room": {"$type": "Room", "$number": 1, "Rack": {"$type": "Rack", "$number": 2}},
        "Hall": {"$type": "Hall", "$number": 1, "Rack": {"$type": "Rack", "$number": 1}},
    }
    assert result.reference["uuid_map"]["rack_1.Power"] == "Room.room_2.Rack.rack_1.Power"
    assert result.uses == [{"Hall": [{"Rack": ["Power"]}]}, {"Room": [{"Rack": ["Power"]}]}]


def test_number_ranges_count_children_per_parent(tmp_path):
    rows = [
        ",hall,DataHall,,",
        ",rack_a,Rack,hall,",
        ",rack_b,Rack,hall,",
        "T,s1,Server,rack_a,1",
        "T,s2,Server,rack_a,2",
        "T,s3,Server,rack_b,3",
    ]
    scenario = draft(write(tmp_path, HEADER + "\n".join(rows) + "\n")).scenario
    assert scenario["DataHall"]["Rack"]["$number"] == 2
    assert scenario["DataHall"]["Rack"]["Server"]["$number"] == "1-2"


def test_uuid_column_keys_the_uuid_map(tmp_path):
    text = "data_point,asset,asset_type,parent_asset,value,uuid\nT,s1,Server,,1,7c5a8382\nU,s1,Server,,2,\n"
    uuid_map = draft(write(tmp_path, text)).reference["uuid_map"]
    assert uuid_map == {"7c5a8382": "Server.s1.T", "s1.U": "Server.s1.U"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("data_point,asset,asset_type,value\nT,a,A,1\n", 1, "missing column(s) parent_asset"),
        ("", 1, "empty CSV"),
        (HEADER + "T,a,A,,1\nT,b,B,a,1,extra\n", 3, "row has 6 fields, the header has 5"),
        (HEADER + "T,a,A,,1\nT,b,B\n", 3, "row has 3 fields"),
        (HEADER + "T,,A,,1\n", 2, "row without asset"),
        (HEADER + "T,a,A,a,1\n", 2, "its own parent"),
        (HEADER + "T,a,A,b,1\nT,b,B,a,1\n", 2, "its own ancestor"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        draft(path)
    assert info.value.file == str(path) and info.value.line == line
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read CSV"):
        draft(tmp_path / "nope.csv")


def test_deep_parent_chains(tmp_path):
    rows = [f"T,a{i},A,a{i - 1},1" if i else "T,a0,A,,1" for i in range(400)]
    scenario = draft(write(tmp_path, HEADER + "\n".join(rows) + "\n")).scenario
    depth = 0
    node = scenario
    while "A" in node:
        node = node["A"]
        depth += 1
    assert depth == 400

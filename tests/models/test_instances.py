"""Asset instances: upstream-compatible ids, numbering options, `$number` draws, `$ids`, reference trees, order."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import datahall, make_model, ranged

from tiro_models.instances import instantiate, snake_name


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("DataHall", "data_hall"),
        ("CRAC", "crac"),
        ("UPSUnit", "ups_unit"),
        ("Rack", "rack"),
        ("Data_Hall", "data_hall"),
        ("_Private", "_private"),
        ("Server Room", "server_room"),
        ("PDU2", "pdu2"),
    ],
)
def test_snake_name_follows_upstream_and_keeps_underscores(name: str, snake: str) -> None:
    assert snake_name(name) == snake


def _servers_by_rack(instances) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for asset in instances.assets:
        if asset.slot.name == "Server":
            out.setdefault(asset.parent.rsplit(".", 1)[1], []).append(asset.id)
    return out


def test_global_numbering_continues_across_parents() -> None:
    model = datahall(server_number=(3, 3))
    servers = _servers_by_rack(instantiate(model, seed=1))
    assert servers == {"rack_0": ["server_0", "server_1", "server_2"], "rack_1": ["server_3", "server_4", "server_5"]}


def test_per_parent_numbering_restarts_under_each_parent() -> None:
    model = datahall(server_number=(3, 3))
    servers = _servers_by_rack(instantiate(model, seed=1, numbering="per_parent"))
    assert servers == {"rack_0": ["server_0", "server_1", "server_2"], "rack_1": ["server_0", "server_1", "server_2"]}


def test_a_second_slot_with_the_same_name_continues_the_sequence() -> None:
    model = make_model(
        {
            "Room": {
                "points": {"Temperature": ranged()},
                "children": {
                    "Rack": {"number": (2, 2), "children": {"Server": {"number": (2, 2), "points": {"P": ranged()}}}},
                    "Server": {"number": (3, 3), "points": {"P": ranged()}},
                },
            }
        }
    )
    ids = [a.id for a in instantiate(model).assets if a.slot.name == "Server"]
    assert ids == [f"server_{i}" for i in range(7)]


def test_number_ranges_are_drawn_per_parent_and_reproducible_with_a_seed() -> None:
    model = make_model(
        {
            "Hall": {
                "children": {
                    "Rack": {"number": (30, 30), "children": {"Server": {"number": (0, 9), "points": {"P": ranged()}}}}
                }
            }
        }
    )
    first = instantiate(model, seed=42)
    again = instantiate(model, seed=42)
    assert [a.path for a in first.assets] == [a.path for a in again.assets]
    assert list(first.points) == list(again.points)
    counts = [len(v) for v in _servers_by_rack(first).values()]
    assert all(0 <= c <= 9 for c in counts)
    assert len(set(counts)) > 1, "30 racks drawing 0-9 servers each should not all draw the same count"
    other = [len(v) for v in _servers_by_rack(instantiate(model, seed=43)).values()]
    assert counts != other


def test_ids_come_from_the_ids_list() -> None:
    model = make_model(
        {
            "Hall": {
                "children": {"Pdu": {"number": (2, 2), "ids": ["pdu-a", "pdu-b", "pdu-c"], "points": {"P": ranged()}}}
            }
        }
    )
    assert [a.id for a in instantiate(model).assets if a.slot.name == "Pdu"] == ["pdu-a", "pdu-b"]


def test_points_are_listed_depth_first_per_asset_points_then_children() -> None:
    instances = instantiate(datahall(server_number=(2, 2)), seed=0)
    assert list(instances.points) == [
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower",
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.SupplyTemperature",
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ReturnTemperature",
        "DataHall.data_hall_0.Rack.rack_0.Telemetry.ActivePower",
        "DataHall.data_hall_0.Rack.rack_0.Server.server_0.Telemetry.FlowRate",
        "DataHall.data_hall_0.Rack.rack_0.Server.server_1.Telemetry.FlowRate",
        "DataHall.data_hall_0.Rack.rack_1.Telemetry.ActivePower",
        "DataHall.data_hall_0.Rack.rack_1.Server.server_2.Telemetry.FlowRate",
        "DataHall.data_hall_0.Rack.rack_1.Server.server_3.Telemetry.FlowRate",
    ]
    spec = instances.points["DataHall.data_hall_0.Rack.rack_1.Server.server_3.Telemetry.FlowRate"]
    assert spec.type_path == "DataHall.Rack.Server.FlowRate"


def test_assets_are_parents_before_children_with_parent_paths() -> None:
    instances = instantiate(datahall(), seed=5)
    seen = {""}
    for asset in instances.assets:
        assert asset.parent in seen
        assert asset.path == f"{asset.parent + '.' if asset.parent else ''}{asset.slot.name}.{asset.id}"
        seen.add(asset.path)


def test_reference_tree_replaces_ids_and_counts_and_restricts_points() -> None:
    model = datahall()
    reference = {
        "tree": {
            "DataHall": {
                "hall-A": {
                    "Rack": {
                        "r1": {"DataPoints": ["ActivePower"], "Server": {"s1": {}, "s2": {"DataPoints": []}}},
                        "r2": {"DataPoints": ["NotRequired"]},
                    }
                }
            }
        }
    }
    instances = instantiate(model, seed=1, reference=reference)
    assert [a.path for a in instances.assets] == [
        "DataHall.hall-A",
        "DataHall.hall-A.Rack.r1",
        "DataHall.hall-A.Rack.r1.Server.s1",
        "DataHall.hall-A.Rack.r1.Server.s2",
        "DataHall.hall-A.Rack.r2",
    ]
    # No CRAC subtree in the reference → no CRAC; DataPoints ∩ uses restricts points; no DataPoints → all.
    assert list(instances.points) == [
        "DataHall.hall-A.Rack.r1.Telemetry.ActivePower",
        "DataHall.hall-A.Rack.r1.Server.s1.Telemetry.FlowRate",
    ]


def test_unknown_numbering_is_rejected() -> None:
    with pytest.raises(ValueError, match="numbering"):
        instantiate(datahall(), numbering="random")  # type: ignore[arg-type]


def test_zero_number_gives_no_assets() -> None:
    model = make_model(
        {"Hall": {"points": {"P": ranged()}, "children": {"Ups": {"number": (0, 0), "points": {"P": ranged()}}}}}
    )
    assert [a.path for a in instantiate(model).assets] == ["Hall.hall_0"]

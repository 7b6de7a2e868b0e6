"""Mock values: seeded, typed and ranged, defaults, fakers, reference ranges, timestamps, sticky attributes, forms."""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import datahall, make_model, point, ranged

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker, compact, example, iso_utc
from tiro_models.validate import validate

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _kinds_model():
    return make_model(
        {
            "Hall": {
                "number": (1, 1),
                "points": {
                    "Temp": ranged(-10, 10, "°C"),
                    "Fine": ranged(0, 1, None, decimals=4),
                    "Open": point("Telemetry", "float"),
                    "OnlyMin": point("Telemetry", "float", gt=100),
                    "Count": point("Telemetry", "int", ge=3, le=7),
                    "Fan": point("Telemetry", "int", lt=0),
                    "On": point("Telemetry", "bool"),
                    "Mode": point("Attribute", "enum", choices=("cooling", "standby")),
                    "Model": point("Attribute", "str"),
                    "Narrow": point("Telemetry", "float", ge=0.001, le=0.002),
                    "Site": point("Attribute", "str", default="Singapore"),
                },
                "defaults": {},
                "children": {"Rack": {"number": (50, 50), "points": {"Power": ranged(0, 1000, "W")}}},
            }
        }
    )


def test_values_follow_kind_and_constraints() -> None:
    mocker = Mocker(instantiate(_kinds_model(), seed=1), seed=1)
    for _ in range(20):
        flat = mocker.flat(now=NOW)
        hall = {path.rsplit(".", 1)[1]: dp["value"] for path, dp in flat.items() if ".Rack." not in path}
        assert type(hall["Temp"]) is float and -10 <= hall["Temp"] <= 10 and round(hall["Temp"], 2) == hall["Temp"]
        assert 0 <= hall["Fine"] <= 1 and round(hall["Fine"], 4) == hall["Fine"]
        assert type(hall["Open"]) is float
        assert hall["OnlyMin"] > 100
        assert type(hall["Count"]) is int and 3 <= hall["Count"] <= 7
        assert type(hall["Fan"]) is int and hall["Fan"] < 0
        assert type(hall["On"]) is bool
        assert hall["Mode"] in ("cooling", "standby")
        assert type(hall["Model"]) is str and hall["Model"]
        assert 0.001 <= hall["Narrow"] <= 0.002
        assert "Site" not in hall  # points with defaults are skipped by default
        assert validate(_kinds_model(), flat).valid


def test_same_seed_and_now_give_identical_output_and_other_seeds_differ() -> None:
    model = datahall()
    first = Mocker(instantiate(model, seed=7), seed=7).snapshot(now=NOW)
    again = Mocker(instantiate(model, seed=7), seed=7).snapshot(now=NOW)
    other = Mocker(instantiate(model, seed=8), seed=8).snapshot(now=NOW)
    assert first == again
    assert first != other


def test_dp_shape_and_timestamps_are_utc_iso_at_now() -> None:
    snapshot = Mocker(instantiate(datahall(), seed=1), seed=1).snapshot(now=NOW)
    dp = snapshot["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]["SupplyTemperature"]
    assert set(dp) == {"value", "timestamp", "unit"}
    assert dp["unit"] == "°C"
    assert datetime.fromisoformat(dp["timestamp"]) == NOW
    assert datetime.fromisoformat(dp["timestamp"]).utcoffset() == timedelta(0)


def test_unit_is_omitted_when_none() -> None:
    model = make_model({"Hall": {"points": {"P": ranged(unit=None)}}})
    dp = Mocker(instantiate(model), seed=1).point("Hall.hall_0.Telemetry.P", now=NOW)
    assert set(dp) == {"value", "timestamp"}


def test_time_var_spreads_timestamps_into_the_past() -> None:
    model = make_model({"Hall": {"number": (40, 40), "points": {"P": ranged(time_var=30.0)}}})
    stamps = [
        datetime.fromisoformat(dp["timestamp"]) for dp in Mocker(instantiate(model), seed=3).flat(now=NOW).values()
    ]
    assert all(NOW - timedelta(seconds=30) <= t <= NOW for t in stamps)
    assert len(set(stamps)) > 1
    assert all(t.tzinfo is not None for t in stamps)


def test_defaults_skipped_used_or_generated() -> None:
    model = make_model(
        {"Hall": {"points": {"T": ranged(), "Site": point("Attribute", "str")}, "defaults": {"T": 21.5}}}
    )
    mocker = Mocker(instantiate(model), seed=1)
    assert mocker.data_point_paths() == ["Hall.hall_0.Attribute.Site"]
    assert mocker.data_point_paths(skip_defaults=False) == ["Hall.hall_0.Telemetry.T", "Hall.hall_0.Attribute.Site"]
    assert "Telemetry" not in mocker.snapshot(now=NOW)["Hall"]["hall_0"]
    with_default = mocker.snapshot(skip_defaults=False, now=NOW)["Hall"]["hall_0"]["Telemetry"]["T"]["value"]
    assert with_default == 21.5
    generated = {
        mocker.snapshot(skip_defaults=False, use_defaults=False, now=NOW)["Hall"]["hall_0"]["Telemetry"]["T"]["value"]
        for _ in range(5)
    }
    assert 21.5 not in generated
    assert mocker.point("Hall.hall_0.Telemetry.T", now=NOW)["value"] == 21.5
    assert mocker.point("Hall.hall_0.Telemetry.T", use_default=False, now=NOW)["value"] != 21.5


class Nameplate(BaseModel):
    vendor: str
    watts: int


def test_library_faker_is_used_and_pydantic_results_become_dicts() -> None:
    calls = iter(range(1000))
    model = make_model(
        {
            "Hall": {
                "points": {
                    "Counter": point("Telemetry", "int", faker=lambda: next(calls)),
                    "Plate": point("Attribute", "any", faker=lambda: Nameplate(vendor="acme", watts=5)),
                }
            }
        }
    )
    mocker = Mocker(instantiate(model), seed=1)
    flat = mocker.flat(now=NOW)
    assert flat["Hall.hall_0.Telemetry.Counter"]["value"] == 0
    assert flat["Hall.hall_0.Attribute.Plate"]["value"] == {"vendor": "acme", "watts": 5}
    assert mocker.flat(now=NOW)["Hall.hall_0.Telemetry.Counter"]["value"] == 1


def test_reference_value_range_is_respected_and_clamped_to_the_type() -> None:
    model = make_model(
        {
            "Hall": {
                "number": (200, 200),
                "points": {"T": ranged(0, 50), "C": point("Telemetry", "int", ge=0, le=10), "S": ranged(0, 50)},
            }
        }
    )
    reference = {
        "value_range": {
            "Hall.T": {"min": 40, "max": 90},
            "Hall.C": {"min": 2.5, "max": 4.5},
            "Hall.S": {"min": "a", "max": "b"},
        }
    }
    flat = Mocker(instantiate(model), seed=1, reference=reference).flat(now=NOW)
    temps = [dp["value"] for p, dp in flat.items() if p.endswith(".T")]
    counts = [dp["value"] for p, dp in flat.items() if p.endswith(".C")]
    others = [dp["value"] for p, dp in flat.items() if p.endswith(".S")]
    assert all(40 <= t <= 50 and round(t, 2) == t for t in temps)
    assert set(counts) <= {3, 4} and all(type(c) is int for c in counts)
    assert all(0 <= s <= 50 for s in others)  # a non-numeric range is ignored, not a crash
    assert validate(model, flat).valid


def test_attributes_are_sticky_unless_change_attrs() -> None:
    model = make_model({"Hall": {"number": (20, 20), "points": {"Model": point("Attribute", "str"), "T": ranged()}}})
    mocker = Mocker(instantiate(model), seed=1)

    def attrs(**kwargs):
        return {p: dp["value"] for p, dp in mocker.flat(now=NOW, **kwargs).items() if ".Attribute." in p}

    def telemetry():
        return {p: dp["value"] for p, dp in mocker.flat(now=NOW).items() if ".Telemetry." in p}

    first = attrs()
    assert attrs() == first
    assert mocker.point("Hall.hall_3.Attribute.Model")["value"] == first["Hall.hall_3.Attribute.Model"]
    assert telemetry() != telemetry()
    changed = attrs(change_attrs=True)
    assert changed != first
    assert attrs() == changed


def test_point_and_values_batch() -> None:
    mocker = Mocker(instantiate(datahall(), seed=1), seed=1)
    paths = mocker.data_point_paths()
    assert mocker.point("DataHall.data_hall_0.CRAC.crac_9.Telemetry.ActivePower") is None
    batch = mocker.values([*paths, "No.such.Telemetry.Point"], now=NOW)
    assert batch[-1] is None
    assert len(batch) == len(paths) + 1
    assert all(0 <= dp["value"] <= 1000 for dp in batch[:-1])
    assert validate(datahall(), dict(zip(paths, batch[:-1], strict=True))).valid


def test_flat_order_matches_data_point_paths() -> None:
    mocker = Mocker(instantiate(datahall(), seed=4), seed=4)
    assert list(mocker.flat(now=NOW)) == mocker.data_point_paths()


def test_hierarchy_lists_names_including_defaults() -> None:
    model = make_model({"Hall": {"points": {"T": ranged(), "Site": point("Attribute", "str")}, "defaults": {"T": 1.0}}})
    assert Mocker(instantiate(model)).hierarchy() == {"Hall": {"hall_0": {"Telemetry": ["T"], "Attribute": ["Site"]}}}


def test_compact_merges_categories_and_drops_timestamps() -> None:
    snapshot = {
        "Hall": {
            "h0": {
                "Telemetry": {"T": {"value": 1.5, "timestamp": "x", "unit": "°C"}},
                "Attribute": {"Site": {"value": "SG", "timestamp": "x"}},
                "Rack": {"r0": {"Telemetry": {"P": {"value": 3, "timestamp": "x"}}}},
            }
        }
    }
    assert compact(snapshot) == {"Hall": {"h0": {"T": 1.5, "Site": "SG", "Rack": {"r0": {"P": 3}}}}}
    assert Mocker.compact(snapshot) == compact(snapshot)


def test_empty_groups_are_omitted() -> None:
    model = make_model(
        {"Hall": {"points": {"T": ranged()}, "children": {"Ups": {"number": (0, 0), "points": {"P": ranged()}}}}}
    )
    assert example(instantiate(model), seed=1, now=NOW)["Hall"]["hall_0"].keys() == {"Telemetry"}


def test_example_compact_form() -> None:
    out = example(instantiate(datahall(), seed=2), seed=2, compact_form=True, now=NOW)
    assert set(out["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]) == {
        "ActivePower",
        "SupplyTemperature",
        "ReturnTemperature",
    }


def test_kind_any_uses_the_annotations_constraints() -> None:
    from pydantic import confloat, conint

    model = make_model(
        {
            "Hall": {
                "number": (100, 100),
                "points": {
                    "T": point("Telemetry", "any", py_type=confloat(ge=20, le=21)),
                    "C": point("Telemetry", "any", py_type=conint(gt=5, lt=8)),
                },
            }
        }
    )
    flat = Mocker(instantiate(model), seed=1).flat(now=NOW)
    assert all(20 <= dp["value"] <= 21 for p, dp in flat.items() if p.endswith(".T"))
    assert {dp["value"] for p, dp in flat.items() if p.endswith(".C")} <= {6, 7}
    assert validate(model, flat, strict=True).valid


def test_extreme_float_limits_still_give_valid_values() -> None:
    model = make_model(
        {
            "Hall": {
                "number": (50, 50),
                "points": {
                    "Huge": point("Telemetry", "float", ge=-1.7e308, le=1.7e308),
                    "Big": point("Telemetry", "float", ge=1e300),
                    "Tiny": point("Telemetry", "float", gt=0, lt=1e-9),
                },
            }
        }
    )
    flat = Mocker(instantiate(model), seed=1).flat(now=NOW)
    assert validate(model, flat, strict=True).valid


def test_repeated_batches_get_fresh_values_in_request_order() -> None:
    mocker = Mocker(instantiate(datahall(), seed=1), seed=1)
    paths = mocker.data_point_paths()
    shuffled = [*reversed(paths), "unknown.path"]
    first = mocker.values(shuffled, now=NOW)
    second = mocker.values(shuffled, now=NOW)
    assert first[-1] is None and second[-1] is None
    assert [dp["value"] for dp in first[:-1]] != [dp["value"] for dp in second[:-1]]
    for path, dp in zip(shuffled[:-1], second[:-1], strict=True):
        assert dp["unit"] == mocker.instances.points[path].unit
    assert validate(datahall(), dict(zip(shuffled[:-1], second[:-1], strict=True))).valid


def test_iso_utc_writes_what_datetime_writes_for_any_moment():
    draw = random.Random(7)
    moments = [draw.uniform(0, 4e9) for _ in range(20_000)]
    moments += [1.8e9 + draw.randint(0, 10**6) / 1e6 for _ in range(20_000)]  # whole microseconds, exactly
    moments += [0.0, 1.5, 1.8e9, 1.8e9 + 0.9999995, 1.8e9 + 5e-7, 1.8e9 + 1.5e-6, 1.8e9 + 2.5e-6, 86_399.9999996]
    assert iso_utc(moments) == [datetime.fromtimestamp(m, UTC).isoformat() for m in moments]


def test_the_groups_of_a_whole_round_of_batches_are_remembered_and_no_more_than_the_budget():
    instances = instantiate(datahall(), seed=1)
    mocker = Mocker(instances, seed=1)
    paths = mocker.data_point_paths()
    batches = [paths[i : i + 3] for i in range(0, len(paths), 3)]
    for batch in batches:
        mocker.columns(batch)
    assert len(mocker._batches) == len(batches)  # a round fits: the next round finds every batch
    mocker._batch_budget = 10
    for batch in batches:
        mocker.columns(batch)
        assert mocker._batched_paths == sum(map(len, mocker._batches)) <= 10

"""Paths and %-patterns: upstream semantics, clear errors, split/join round trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiro_models import paths
from tiro_models.errors import InputError, SnapshotError

DP = "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ReturnTemperature"
EXAMPLE_TYPE_PATHS = [
    "DataHall.CRAC.ReturnTemperature",
    "DataHall.CRAC.SupplyTemperature",
    "DataHall.CRAC.ActivePower",
    "DataHall.Rack.ActivePower",
    "DataHall.Rack.Server.FlowRate",
]
REPO = Path(__file__).resolve().parents[2]


def test_split_dp_path():
    assert paths.split_dp_path(DP) == ("DataHall.data_hall_0.CRAC.crac_0", "Telemetry", "ReturnTemperature")
    assert paths.split_dp_path("Rack.rack 1.Attribute.Model Name") == ("Rack.rack 1", "Attribute", "Model Name")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ReturnTemperature",
        "Telemetry.X",
        "DataHall.data_hall_0.ReturnTemperature",
        "DataHall.data_hall_0.Other.X",
        "DataHall.Telemetry.X",
        "DataHall.data_hall_0.Telemetry.",
        "DataHall..CRAC.crac_0.Telemetry.X",
    ],
)
def test_split_dp_path_rejects_malformed_paths(bad):
    with pytest.raises(SnapshotError) as info:
        paths.split_dp_path(bad)
    assert repr(bad) in str(info.value)


def test_type_paths_of_data_points_and_assets():
    assert paths.type_path_of(DP) == "DataHall.CRAC.ReturnTemperature"
    assert paths.type_path_of("DataHall.data_hall_0.Rack.rack_1") == "DataHall.Rack"
    assert paths.type_path_of("") == ""
    assert paths.asset_path_of(DP) == "DataHall.data_hall_0.CRAC.crac_0"
    assert paths.short_path(DP) == "DataHall.data_hall_0.CRAC.crac_0.ReturnTemperature"
    with pytest.raises(SnapshotError, match=re.escape("DataHall.data_hall_0.Rack")):
        paths.type_path_of("DataHall.data_hall_0.Rack")


def test_asset_pairs_and_parents():
    assert paths.asset_pairs("DataHall.data_hall_0.Rack.rack_1") == [("DataHall", "data_hall_0"), ("Rack", "rack_1")]
    assert paths.asset_pairs("") == []
    assert paths.parent_asset_path("DataHall.data_hall_0.Rack.rack_1") == "DataHall.data_hall_0"
    assert paths.parent_asset_path("DataHall.data_hall_0") == ""
    with pytest.raises(SnapshotError, match="'DataHall'"):
        paths.asset_pairs("DataHall")
    with pytest.raises(SnapshotError):
        paths.parent_asset_path("")


def test_join_skips_empty_parts_like_concat_path():
    assert paths.join("", "DataHall", "data_hall_0") == "DataHall.data_hall_0"
    assert paths.join("a.b", "", "c") == "a.b.c"
    assert paths.split("") == []
    assert paths.split("a.b") == ["a", "b"]


def test_join_asset_path_rejects_dots_and_empty_segments():
    with pytest.raises(SnapshotError, match=re.escape("'rack.1'")):
        paths.join_asset_path([("Rack", "rack.1")])
    with pytest.raises(SnapshotError):
        paths.join_asset_path([("", "x")])
    with pytest.raises(SnapshotError, match="Other"):
        paths.data_point_path("Rack.r", "Other", "X")


def test_format_regex_is_upstream():
    # tiro-upstream §8 check 11
    assert paths.format_regex("%%Rack%ActivePower") == "^.*Rack\\.ActivePower$"
    assert paths.format_regex("DataHall%CRAC%%") == "^DataHall\\.CRAC.*$"


def test_match_type_paths_on_the_upstream_example():
    # tiro-upstream §8 check 11: "%%Rack%%" selects the rack and server points
    assert sorted(paths.match_type_paths("%%Rack%%", EXAMPLE_TYPE_PATHS)) == [
        "DataHall.Rack.ActivePower",
        "DataHall.Rack.Server.FlowRate",
    ]
    assert paths.match_type_paths("%%Rack%ActivePower", EXAMPLE_TYPE_PATHS) == ["DataHall.Rack.ActivePower"]
    assert paths.match_type_paths(".*Server%(CPU|Flow)Rate", EXAMPLE_TYPE_PATHS) == ["DataHall.Rack.Server.FlowRate"]
    # fullmatch: a pattern matching a prefix only does not select
    assert paths.match_type_paths("DataHall%CRAC", EXAMPLE_TYPE_PATHS) == []


def test_match_type_paths_on_the_compiled_datahall_example():
    from tiro_models.compile import load_model

    base = REPO / "scenarios" / "datahall"
    model = load_model(base / "scenario.yaml", [base / "use-srv1.yaml", base / "use-srv2.yaml"])
    matched = paths.match_type_paths("%%Rack%%", model.points)
    assert {"DataHall.Rack.ActivePower", "DataHall.Rack.Server.FlowRate"} <= set(matched)
    assert matched == [p for p in model.points if p.startswith("DataHall.Rack.")]


def test_compile_pattern_is_cached_and_reports_bad_patterns():
    assert paths.compile_pattern("%%Rack%%") is paths.compile_pattern("%%Rack%%")
    with pytest.raises(InputError, match=re.escape("'%%Rack(%%'")):
        paths.match_type_paths("%%Rack(%%", EXAMPLE_TYPE_PATHS)


segment = st.text(st.characters(blacklist_characters=".", blacklist_categories=("Cs",)), min_size=1, max_size=12)
type_name = segment.filter(lambda s: s not in paths.CATEGORIES)
pairs_strategy = st.lists(st.tuples(type_name, segment), min_size=1, max_size=5)


@given(pairs_strategy, st.sampled_from(paths.CATEGORIES), segment)
def test_data_point_paths_round_trip(pairs, category, name):
    asset_path = paths.join_asset_path(pairs)
    dp_path = paths.data_point_path(asset_path, category, name)
    assert paths.split_dp_path(dp_path) == (asset_path, category, name)
    assert paths.asset_pairs(asset_path) == pairs
    assert paths.is_data_point_path(dp_path)
    assert paths.type_path_of(dp_path) == ".".join([t for t, _ in pairs] + [name])
    assert paths.type_path_of(asset_path) == ".".join(t for t, _ in pairs)
    parent = paths.join_asset_path(pairs[:-1]) if len(pairs) > 1 else ""
    assert paths.parent_asset_path(asset_path) == parent
    assert paths.split(dp_path) == [s for pair in pairs for s in pair] + [category, name]


@given(
    st.lists(st.text(st.characters(blacklist_characters="%.", blacklist_categories=("Cs",)), max_size=5), max_size=4)
)
def test_percent_pattern_of_literal_words_matches_the_joined_path(words):
    literal = [re.escape(w) for w in words]
    pattern = "%".join(literal)
    assert paths.match_type_paths(pattern, [".".join(words)]) == [".".join(words)]
    assert paths.match_type_paths("%%" + pattern, ["x." + ".".join(words)]) == ["x." + ".".join(words)]

"""Arbitrary YAML text and structures as scenario or uses never raise anything but InputError subclasses."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiro_models import compile_model
from tiro_models.check import check
from tiro_models.errors import InputError, ScenarioError, UsesError
from tiro_models.library.yaml_library import YamlLibrary
from tiro_models.yaml_io import parse_yaml

LIBRARY_TEXT = """\
Rack:
  points:
    Power: {ge: 0, le: 1000, unit: W}
    Mode: {type: enum, choices: [a, b]}
Server:
  extends: Rack
  points:
    Flow: {type: int}
"""

NAMES = st.sampled_from(
    ["Rack", "Server", "Power", "Flow", "Mode", "$type", "$number", "$ids", "$defaults", "X", "a.b"]
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 30), st.floats(allow_nan=True), st.text(max_size=8), NAMES
)
KEYS = st.one_of(NAMES, st.text(max_size=6), st.integers(-2, 5), st.booleans())
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=25,
)
YAML_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.sampled_from(
            [
                "Rack:",
                "  $type: Rack",
                "  $number: 2-5",
                "  - Power",
                "- Rack:",
                "  $ids: [a, b]",
                "{",
                "]",
                "  ",
                "&a",
                "*a",
                ": x",
                "!!python/object:os.system",
                "? x",
                "- [1,",
                "\t",
            ]
        ),
        max_size=12,
    ).map("\n".join),
)


def _library(tmp_path_factory) -> YamlLibrary:
    directory = tmp_path_factory.mktemp("lib")
    (directory / "lib.yaml").write_text(LIBRARY_TEXT)
    return YamlLibrary("lib.yaml", directory / "lib.yaml")


def _compile(scenario, uses, library: YamlLibrary, strict: bool) -> None:
    try:
        compile_model(scenario, [uses], library=library, strict=strict, warnings=[])
    except InputError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=TREES, uses=TREES, strict=st.booleans())
def test_arbitrary_structures(tmp_path_factory, scenario, uses, strict: bool) -> None:
    library = _library(tmp_path_factory)
    _compile(scenario, uses, library, strict)
    _compile({"Rack": {"$type": "Rack", "S": scenario}}, {"Rack": uses}, library, strict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario_text=YAML_TEXT, uses_text=YAML_TEXT, strict=st.booleans())
def test_arbitrary_yaml_text(tmp_path_factory, scenario_text: str, uses_text: str, strict: bool) -> None:
    library = _library(tmp_path_factory)
    try:
        scenario = parse_yaml(scenario_text, "scenario.yaml", ScenarioError)
        uses = parse_yaml(uses_text, "uses.yaml", UsesError)
    except InputError as exc:
        assert exc.file in ("scenario.yaml", "uses.yaml")
        return
    _compile(scenario, uses, library, strict)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario_text=YAML_TEXT, uses_text=YAML_TEXT)
def test_check_on_arbitrary_files_only_reports(tmp_path_factory, scenario_text: str, uses_text: str) -> None:
    directory: Path = tmp_path_factory.mktemp("check")
    (directory / "lib.yaml").write_text(LIBRARY_TEXT)
    (directory / "scenario.yaml").write_text("$asset_library_name: lib.yaml\n" + scenario_text)
    (directory / "uses.yaml").write_text(uses_text)
    for diagnostic in check(directory / "scenario.yaml", [directory / "uses.yaml"]):
        assert diagnostic.severity in ("error", "warning")

"""Store factories for the contract suites, and a small model with every value kind.

Each factory takes the test's tmp_path and returns a fresh, empty, not yet bootstrapped store. sqlite is always
tested; server backends are added when their environment variables name a reachable server: append a factory to
TELEMETRY_FACTORIES / GRAPH_FACTORIES below (guarded by `TIRO_TEST_INFLUX_URL` / `TIRO_TEST_ARANGO_URL`), giving
each call its own bucket or database so tests stay independent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tiro.examples import example_dir
from tiro.stores.base import GraphStore, TelemetryStore
from tiro.stores.urls import open_graph_store, open_telemetry_store
from tiro_models.compile import compile_model
from tiro_models.spec import Model
from tiro_models.yaml_io import load_yaml_file

TelemetryFactory = Callable[[Path], TelemetryStore]
GraphFactory = Callable[[Path], GraphStore]

TELEMETRY_FACTORIES: dict[str, TelemetryFactory] = {
    "sqlite-memory": lambda tmp: open_telemetry_store("sqlite://"),
    "sqlite-file": lambda tmp: open_telemetry_store(f"sqlite:///{tmp / 'telemetry.db'}"),
}
GRAPH_FACTORIES: dict[str, GraphFactory] = {
    "sqlite-memory": lambda tmp: open_graph_store("sqlite://"),
    "sqlite-file": lambda tmp: open_graph_store(f"sqlite:///{tmp / 'graph.db'}"),
    # what tiro_store opens for a sqlite URL: samples written once, as telemetry, and read by the graph from there
    "sqlite-linked": lambda tmp: open_graph_store(
        f"sqlite:///{tmp / 'both.db'}", telemetry=open_telemetry_store(f"sqlite:///{tmp / 'both.db'}")
    ),
}


@pytest.fixture(params=sorted(TELEMETRY_FACTORIES))
def telemetry_store(request, tmp_path) -> Iterator[TelemetryStore]:
    """A bootstrapped, empty telemetry store of each backend."""
    store = TELEMETRY_FACTORIES[request.param](tmp_path)
    store.bootstrap()
    yield store
    store.close()


@pytest.fixture
def telemetry_factory(request, tmp_path) -> Callable[[], TelemetryStore]:
    """Makes more stores of the backend under test (for comparing two write paths)."""
    name = request.node.callspec.params["telemetry_store"]
    made: list[TelemetryStore] = []

    def make() -> TelemetryStore:
        folder = tmp_path / f"extra{len(made)}"
        folder.mkdir()
        store = TELEMETRY_FACTORIES[name](folder)
        store.bootstrap()
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture(params=sorted(GRAPH_FACTORIES))
def graph_store(request, tmp_path) -> Iterator[GraphStore]:
    """An empty graph store of each backend (tests bootstrap it with their model)."""
    store = GRAPH_FACTORIES[request.param](tmp_path)
    yield store
    store.close()


_SCENARIO = example_dir("datahall") / "scenario-yaml-library.yaml"

FULL_USES = [
    {
        "DataHall": [
            "Site",
            "Temperature",
            {"Rack": ["ActivePower", {"Server": ["FlowRate", "ModelName"]}]},
            {"CRAC": ["ActivePower", "Mode", "FanSpeed"]},
        ]
    }
]
NO_CRAC_USES = [{"DataHall": ["Site", "Temperature", {"Rack": ["ActivePower", {"Server": ["FlowRate", "ModelName"]}]}]}]


def compile_uses(uses: list) -> Model:
    """The datahall scenario (YAML library) compiled with in-memory uses."""
    return compile_model(load_yaml_file(_SCENARIO), [uses], base_dir=_SCENARIO.parent, scenario_file=str(_SCENARIO))


@pytest.fixture(scope="session")
def full_model() -> Model:
    """DataHall with attributes and telemetry on every level (Site, Rack, Server.ModelName, CRAC.Mode)."""
    return compile_uses(FULL_USES)


@pytest.fixture(scope="session")
def no_crac_model() -> Model:
    """The same model without the CRAC slot (for topology sync)."""
    return compile_uses(NO_CRAC_USES)

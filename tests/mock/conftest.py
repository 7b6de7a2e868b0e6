"""A real mock server (uvicorn on a free loopback port) serving the datahall example."""

from __future__ import annotations

import pytest

from tiro.cli.mock_cmd import build_service
from tiro.examples import example_dir
from tiro.mock.app import create_app
from tiro.mock.server import BackgroundServer


def datahall_service(**kwargs):
    """The MockService of the shipped datahall example with both uses files."""
    d = example_dir("datahall")
    return build_service(d / "scenario.yaml", [d / "use-srv1.yaml", d / "use-srv2.yaml"], **kwargs)


@pytest.fixture
def mock_server():
    """A running mock server for the datahall example (seed 11); yields the BackgroundServer."""
    with BackgroundServer(create_app(datahall_service(seed=11))) as server:
        yield server

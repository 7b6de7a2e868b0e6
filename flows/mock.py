"""Flow `serve_mock`: the Tiro mock server as a long-running (cancellable) flow."""

from __future__ import annotations

import asyncio

from prefect import flow, get_run_logger
from prefect.states import Cancelled, State

from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.mock.service import MockService
from tiro.settings import mock_port
from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_prefect.flows.termination import sigterm_sets
from tiro_prefect.tasks.scenario import load_scenario


def mock_service(scenario: str, uses: list[str], seed: int | None = None, faulty: float = 0.0) -> MockService:
    """The MockService of a scenario, compiled through the cached load-scenario task."""
    from tiro.mock.faults import FaultInjector

    model = load_scenario(scenario, uses)
    instances = instantiate(model, seed=seed)
    faults = FaultInjector(faulty, seed=seed) if faulty else None
    return MockService(Mocker(instances, seed=seed), faults=faults)


@flow(name="mock-server")
async def serve_mock(
    scenario: str,
    uses: list[str],
    host: str = "127.0.0.1",
    port: int | None = None,
    seed: int | None = None,
    faulty: float = 0.0,
    duration: float | None = None,
) -> str | State:
    """Serve mock data for SCENARIO + USES on host:port until `duration` elapses or the run is cancelled.

    `port` left out: the port of $TIRO_MOCK_URL (default 8000), where the Karez roles service collects from."""
    port = port if port is not None else mock_port()
    server = BackgroundServer(create_asgi(mock_service(scenario, uses, seed, faulty)), host=host, port=port)
    terminated = asyncio.Event()
    with sigterm_sets(terminated):  # before the server answers: a cancel may come as soon as it does
        await asyncio.to_thread(server.start)
        get_run_logger().info("Mock server on %s", server.url)
        try:
            await asyncio.wait_for(terminated.wait(), timeout=duration)
        except TimeoutError:
            pass
        finally:
            await asyncio.to_thread(server.stop)
    if terminated.is_set():  # cancelled through the worker
        return Cancelled(message=f"Mock server on {server.url} stopped after a termination request")
    return server.url

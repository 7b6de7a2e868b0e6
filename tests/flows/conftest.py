"""Fixtures for flow tests: Prefect without the heartbeat thread, a real nats-server, the example's files."""

from __future__ import annotations

from pathlib import Path

import nats
import orjson
import pytest

from tiro.examples import example_dir, example_files
from tiro.mock.service import example_service


@pytest.fixture(scope="session", autouse=True)
def _no_flow_heartbeat():
    """Sync flows otherwise wait ~1 s each for the heartbeat thread (prefect-notes.md)."""
    from prefect.settings import temporary_settings

    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        yield


@pytest.fixture(scope="session", autouse=True)
def _ephemeral_api(_no_flow_heartbeat):
    """Start Prefect's ephemeral API once, from one thread (two threads starting it at once race in Prefect)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.api_healthcheck()
    yield


@pytest.fixture(scope="session")
def datahall() -> tuple[str, list[str]]:
    """(scenario file, uses files) of the shipped datahall example, as strings."""
    scenario, uses = example_files(example_dir("datahall"))
    return str(scenario), [str(u) for u in uses]


@pytest.fixture
def publish_snapshot():
    """publish_snapshot(url, faulty=0.0, seed=3): publish the example's points as validation_data batches."""
    return publish_example_snapshot


async def publish_example_snapshot(url: str, *, faulty: float = 0.0, seed: int = 3, batch: int = 50) -> int:
    """Publish the example's data points as validation_data items (batches, as `batch: true` roles do)."""
    service = example_service(seed=seed, faulty=faulty)
    points, _ = service.batch(service.listed)
    items = [{"path": p, "result": dp, "_karez": {"category": "validation_data"}} for p, dp in points.items()]
    nc = await nats.connect(url)
    js = nc.jetstream()
    for i in range(0, len(items), batch):
        await js.publish("karez.validation_data.update_category_for_validator", orjson.dumps(items[i : i + batch]))
    await nc.close()
    return len(items)


@pytest.fixture
def serve_module(monkeypatch):
    """deployments/serve.py loaded as a module, run from the repository root as the deployments are."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    spec = importlib.util.spec_from_file_location("tiro_serve", root / "deployments" / "serve.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""The TelemetryStore contract suite against a real InfluxDB 2, when `TIRO_TEST_INFLUX_URL` names one.

The token comes from `TIRO_INFLUX_TOKEN` (or `INFLUX_TOKEN`), the org from `TIRO_INFLUX_ORG`. Every store gets a
bucket of its own, deleted afterwards. Without the variable the module is skipped: no InfluxDB 2 can run here (the
write path is tested against VictoriaMetrics in test_influx_victoria.py).
"""

from __future__ import annotations

import os
import uuid

import pytest

URL = os.environ.get("TIRO_TEST_INFLUX_URL")
if not URL:
    pytest.skip(
        "TIRO_TEST_INFLUX_URL is not set (plus TIRO_INFLUX_TOKEN, TIRO_INFLUX_ORG): no InfluxDB 2 to test against",
        allow_module_level=True,
    )

from test_contract_telemetry import *  # noqa: E402, F403 - the same contract tests, run with the fixtures below

from tiro.stores.influx import InfluxTelemetryStore  # noqa: E402


def _fresh_store() -> InfluxTelemetryStore:
    store = InfluxTelemetryStore(URL, bucket=f"tiro_test_{uuid.uuid4().hex[:12]}")
    store.bootstrap()
    return store


def _drop(store: InfluxTelemetryStore) -> None:
    api = store.client.buckets_api()
    bucket = api.find_bucket_by_name(store.settings.bucket)
    if bucket is not None:
        api.delete_bucket(bucket)
    store.close()


@pytest.fixture
def telemetry_store():
    """A bootstrapped InfluxTelemetryStore on a bucket of its own."""
    store = _fresh_store()
    yield store
    _drop(store)


@pytest.fixture
def telemetry_factory():
    """More stores of the same backend, each on its own bucket."""
    made: list[InfluxTelemetryStore] = []

    def make() -> InfluxTelemetryStore:
        made.append(_fresh_store())
        return made[-1]

    yield make
    for store in made:
        _drop(store)

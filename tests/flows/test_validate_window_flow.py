"""validate_window against a real JetStream stream: full, empty, faulty and explicit windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import nats
import orjson
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from window_runs import validated

from tiro.retention import RETENTION_STREAM
from tiro_prefect.flows.validation import InvalidWindow, validate_window


async def test_full_window_is_valid_and_reports_counts(publish_snapshot, nats_server, datahall, tmp_path):
    scenario, uses = datahall
    await validated(scenario, uses, window=5, nats_url=nats_server.url)  # creates the stream
    published = await publish_snapshot(nats_server.url)
    log = tmp_path / "validation.log"
    body = await validate_window(scenario, uses, window=30, nats_url=nats_server.url, log_file=str(log))
    assert body["valid"] is True, body["errors"][:3]
    assert body["empty"] is False
    assert body["items"] == published
    assert body["collection_size"] == published
    assert body["counts"]["missing"] == 0 and body["completeness"] == 1.0
    logged = [orjson.loads(line) for line in log.read_text().splitlines()]
    assert logged[-1]["items"] == published and logged[-1]["valid"] is True


async def test_empty_window_reports_every_point_missing(nats_server, datahall):
    scenario, uses = datahall
    body = await validated(scenario, uses, window=5, nats_url=nats_server.url)
    assert body["empty"] is True and body["messages"] == 0
    assert body["valid"] is False
    assert body["counts"]["received"] == 0
    assert body["counts"]["missing"] == body["counts"]["expected"] > 0
    assert {e["type"] for e in body["errors"]} == {"missing"}


async def test_faulty_data_fails_the_run(publish_snapshot, nats_server, datahall):
    scenario, uses = datahall
    await validated(scenario, uses, window=5, nats_url=nats_server.url)
    await publish_snapshot(nats_server.url, faulty=0.3, seed=5)
    body = await validated(scenario, uses, window=30, nats_url=nats_server.url)
    assert body["valid"] is False
    assert all(e["path"].startswith("DataHall.") for e in body["errors"])
    with pytest.raises(InvalidWindow, match="invalid") as raised:
        await validate_window(scenario, uses, window=30, nats_url=nats_server.url)
    assert raised.value.report["errors"] == body["errors"]  # the exception carries the report


async def test_explicit_window_before_the_data_is_empty(publish_snapshot, nats_server, datahall):
    scenario, uses = datahall
    await validated(scenario, uses, window=5, nats_url=nats_server.url)
    before = datetime.now(UTC)
    await publish_snapshot(nats_server.url)
    body = await validated(scenario, uses, start=before - timedelta(seconds=60), end=before, nats_url=nats_server.url)
    assert body["empty"] is True
    later = await validate_window(
        scenario, uses, start=before, end=datetime.now(UTC) + timedelta(seconds=1), nats_url=nats_server.url
    )
    assert later["valid"] is True and later["messages"] > 0


async def test_report_artifacts_are_published(nats_server, datahall):
    scenario, uses = datahall
    state = await validate_window(scenario, uses, window=5, nats_url=nats_server.url, return_state=True)
    run_id = state.state_details.flow_run_id
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    assert {"validation-window", "validation-window-report"} <= set(by_key)
    assert "every required data point is missing" in by_key["validation-window-report"].data
    rows = orjson.loads(by_key["validation-window"].data) if isinstance(by_key["validation-window"].data, str) else []
    assert {"item": "valid", "value": False} in rows


async def test_retention_stream_gets_the_retention(nats_server, datahall):
    scenario, uses = datahall
    await validated(scenario, uses, window=5, retention=120, nats_url=nats_server.url)
    nc = await nats.connect(nats_server.url)
    info = await nc.jetstream().stream_info(RETENTION_STREAM)
    await nc.close()
    assert info.config.max_age == 120
    assert info.config.subjects == ["karez.validation_data.>"]


async def test_unreachable_nats_names_the_address(datahall):
    scenario, uses = datahall
    with pytest.raises(ConnectionError, match=r"127\.0\.0\.1:9"):
        await validate_window(scenario, uses, window=5, nats_url="nats://127.0.0.1:9")

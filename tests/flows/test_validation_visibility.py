"""What an invalid window looks like in Prefect: its state, artifact titles, errors table, run name, kept history."""

from __future__ import annotations

import orjson
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

from tiro.stores.window_results import open_window_results
from tiro_prefect.flows.validation import InvalidWindow, validate_window, window_report
from tiro_prefect.tasks.validation import headline, markdown_report, window_event
from tiro_prefect.tasks.window_history import CHART_KEY

BODY = {
    "start": "2026-12-05T10:30:22.731579+00:00",
    "end": "2026-12-05T10:30:52.731579+00:00",
    "valid": False,
    "completeness": 0.42,
    "counts": {"expected": 10, "received": 5, "missing": 5, "invalid": 1, "unknown": 0},
    "errors": [
        {"path": "A.a.Telemetry.P", "msg": "too high", "type": "value_error.number.not_le", "value": 1200.5,
         "allowed": "float in [0, 1000] W"},
        {"path": "A.a.Telemetry.Q|x", "msg": "field required", "type": "missing"},
    ],
    "messages": 3,
}  # fmt: skip


def test_titles_and_heading_carry_verdict_completeness_and_a_readable_window() -> None:
    assert headline(BODY) == "INVALID · 42.0% complete · 2026-12-05 10:30:22–10:30:52 UTC"
    report = markdown_report(BODY)
    first = report.splitlines()[0]
    assert first == "## ✗ INVALID · 42.0% complete" and len(first) < 40
    assert "| `A.a.Telemetry.P` | value_error.number.not_le | 1200.5 | float in [0, 1000] W |" in report
    assert "| `A.a.Telemetry.Q\\|x` | missing | – | – |" in report  # a pipe in a path does not break the table


def test_one_event_per_window_names_the_verdict() -> None:
    event = window_event(BODY, "scenarios/datahall/scenario.yaml")
    assert event["event"] == "tiro.validation.window.invalid"
    assert event["resource"]["prefect.resource.id"] == "tiro.validation.datahall"
    assert event["payload"]["window"] == "2026-12-05 10:30:22–10:30:52 UTC"
    assert event["payload"]["counts"]["missing"] == 5 and event["payload"]["errors"] == 2
    assert window_event({**BODY, "valid": True}, "x.yaml")["event"] == "tiro.validation.window.valid"


async def _artifacts(run_id) -> dict:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        run = await client.read_flow_run(run_id)
    return {"run": run, **{a.key: a for a in found}}


async def test_an_invalid_window_ends_failed_in_a_run_named_invalid(nats_server, datahall, tmp_path):
    scenario, uses = datahall
    store = f"sqlite:///{tmp_path / 'tiro.db'}"
    state = await validate_window(
        scenario, uses, window=5, nats_url=nats_server.url, results_store=store, return_state=True
    )
    assert (state.name, state.type.value) == ("Failed", "FAILED")  # red, and listed by every page of the UI
    assert "is invalid" in state.message
    with pytest.raises(InvalidWindow, match="is invalid"):
        await state.result()  # calling the flow raises
    body = await window_report(state)
    assert body["valid"] is False and body["empty"] is True
    found = await _artifacts(state.state_details.flow_run_id)
    title = headline(body)
    assert found["run"].name == title and title.startswith("INVALID · ") and found["run"].state.name == "Failed"
    assert found["validation-window"].description == title
    assert found["validation-window-report"].description == title
    rows = orjson.loads(found["validation-window-errors"].data)
    assert {"path", "check", "value", "allowed", "message"} <= set(rows[0]) and rows[0]["check"] == "missing"
    assert "data:image/svg+xml;base64," in found[CHART_KEY].data

    again_state = await validate_window(
        scenario, uses, window=5, nats_url=nats_server.url, results_store=store, return_state=True
    )
    again = await window_report(again_state)
    assert again["valid"] is False
    kept = open_window_results(store)
    assert [r.valid for r in kept.recent(10)] == [False, False]
    kept.close()


async def test_without_fail_on_invalid_the_run_completes_and_returns_the_report(nats_server, datahall):
    scenario, uses = datahall
    state = await validate_window(
        scenario, uses, window=5, nats_url=nats_server.url, fail_on_invalid=False, return_state=True
    )
    assert (state.name, state.type.value) == ("Completed", "COMPLETED")
    assert "is invalid" in state.message
    assert (await state.result())["valid"] is False


async def test_no_store_means_no_chart(nats_server, datahall, monkeypatch):
    monkeypatch.delenv("TIRO_TELEMETRY_URL", raising=False)
    scenario, uses = datahall
    state = await validate_window(scenario, uses, window=5, nats_url=nats_server.url, return_state=True)
    async with get_client() as client:
        charts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
                key=ArtifactFilterKey(any_=[CHART_KEY]),
            )
        )
    assert charts == []


async def test_a_store_that_cannot_be_written_leaves_the_verdict_standing(nats_server, datahall, tmp_path, caplog):
    scenario, uses = datahall
    store = f"sqlite:///{tmp_path / 'no-such-folder' / 'tiro.db'}"
    state = await validate_window(
        scenario, uses, window=5, nats_url=nats_server.url, results_store=store, return_state=True
    )
    assert state.name == "Failed" and (await window_report(state))["valid"] is False
    assert "window result not kept in sqlite:///" in caplog.text


def test_the_invalid_window_error_keeps_its_report_when_persisted():
    import pickle

    error = pickle.loads(pickle.dumps(InvalidWindow("window 10:00:00–10:01:00 UTC is invalid", {"valid": False})))
    assert str(error) == "window 10:00:00–10:01:00 UTC is invalid" and error.report == {"valid": False}

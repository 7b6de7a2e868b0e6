"""Tasks: validate a snapshot against the compiled model, publish the report (artifacts, log line, log file, run name)
and announce the verdict as a Prefect event."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from tiro.window_report import WindowReport, scenario_label, verdict, window_label
from tiro_models.spec import Model
from tiro_models.validate import ValidationResult, validate

REPORT_KEY = "validation-window"
ERRORS_KEY = f"{REPORT_KEY}-errors"
MAX_LISTED_ERRORS = 50
EVENT_PREFIX = "tiro.validation.window"
RESOURCE_PREFIX = "tiro.validation"


@task(name="validate-snapshot", cache_policy=NO_CACHE)
def validate_snapshot(
    model: Model,
    snapshot: dict[str, Any],
    start: datetime,
    end: datetime,
    strict: bool = False,
    max_age: float | None = None,
) -> ValidationResult:
    """Validate the flat snapshot of the window [start, end) (lenient: upstream checks; strict: more)."""
    return validate(model, snapshot, strict=strict, now=end, max_age=max_age, window=(start, end))


def report_body(
    result: ValidationResult,
    *,
    empty: bool,
    messages: int,
    items: int,
    collection_size: int,
    late: int,
    allowed_lateness: float,
    rejected: list[str],
) -> WindowReport:
    """The JSON report of one window: the result's fields plus what was read (messages, items, empty…)."""
    fields = result.to_dict()
    return WindowReport(
        start=fields["start"],
        end=fields["end"],
        valid=fields["valid"],
        exception=fields["exception"],
        errors=fields["errors"],
        counts=fields["counts"],
        completeness=fields["completeness"],
        strict=result.strict,
        empty=empty,
        messages=messages,
        items=items,
        collection_size=collection_size,
        late=late,
        allowed_lateness=allowed_lateness,
        rejected=rejected,
    )


def headline(body: WindowReport) -> str:
    """`INVALID · 42.0% complete · 2026-12-05 10:30:22–10:30:52 UTC`: the verdict first, for titles and lists."""
    return (
        f"{verdict(body['valid'])} · {body['completeness']:.1%} complete · {window_label(body['start'], body['end'])}"
    )


def _cell(value: Any) -> str:
    """A markdown table cell: pipes escaped, never empty."""
    text = "–" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ") or "–"


def markdown_report(body: WindowReport) -> str:
    """A short human report: a one-line heading with the verdict, the window, counts, and the first errors."""
    mark = "✓" if body["valid"] else "✗"
    lines = [
        f"## {mark} {verdict(body['valid'])} · {body['completeness']:.1%} complete",
        "",
        f"**Window** {window_label(body['start'], body['end'])}",
        "",
    ]
    if body.get("empty"):
        lines += ["No message was retained in this window: every required data point is missing.", ""]
    counts = {**body["counts"], "messages": body.get("messages", 0), "items": body.get("items", 0)}
    lines += ["| count | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in counts.items()), ""]
    errors = body["errors"]
    if errors:
        lines += [f"### {len(errors)} error(s)", "", "| path | check | value | allowed |", "|---|---|---|---|"]
        lines += [
            f"| `{_cell(e['path'])}` | {_cell(e['type'])} | {_cell(e.get('value'))} | {_cell(e.get('allowed'))} |"
            for e in errors[:MAX_LISTED_ERRORS]
        ]
        if len(errors) > MAX_LISTED_ERRORS:
            lines += ["", f"… and {len(errors) - MAX_LISTED_ERRORS} more"]
    return "\n".join(lines)


def summary_rows(body: WindowReport) -> list[dict[str, Any]]:
    """One table row per count, plus one per error type (what the UI's table artifact shows)."""
    rows = [
        {"item": "valid", "value": body["valid"]},
        {"item": "completeness", "value": round(body["completeness"], 4)},
    ]
    rows += [{"item": name, "value": value} for name, value in body["counts"].items()]
    rows += [{"item": "messages", "value": body.get("messages", 0)}]
    by_type: dict[str, int] = {}
    for error in body["errors"]:
        by_type[error["type"]] = by_type.get(error["type"], 0) + 1
    rows += [{"item": f"errors: {kind}", "value": n} for kind, n in sorted(by_type.items())]
    return rows


def error_rows(body: WindowReport) -> list[dict[str, Any]]:
    """One row per error (the first MAX_LISTED_ERRORS): path, check, offending value, allowed range, message."""
    return [
        {
            "path": e["path"],
            "check": e["type"],
            "value": "–" if "value" not in e else json.dumps(e["value"], ensure_ascii=False),
            "allowed": e.get("allowed") or "–",
            "message": e["msg"],
        }
        for e in body["errors"][:MAX_LISTED_ERRORS]
    ]


@task(name="publish-validation-report", cache_policy=NO_CACHE)
def publish_validation_report(body: WindowReport, log_file: str | None = None) -> WindowReport:
    """Create the summary, errors and markdown artifacts, name the run after its window and verdict, log the report
    as one JSON line, and append it to `log_file`."""
    title = headline(body)
    create_table_artifact(summary_rows(body), key=REPORT_KEY, description=title)
    create_markdown_artifact(markdown_report(body), key=f"{REPORT_KEY}-report", description=title)
    if body["errors"]:
        create_table_artifact(error_rows(body), key=ERRORS_KEY, description=f"{len(body['errors'])} error(s) · {title}")
    name_run(title)
    line = json.dumps(body, ensure_ascii=False, default=str)
    get_run_logger().info(line)
    if log_file:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")
    return body


def name_run(name: str) -> None:
    """Rename the current flow run (lists and the artifact history then read `INVALID · 42.0% complete · …`)."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    if flow_run.id is None:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run.id, name=name)


def window_event(body: WindowReport, scenario: str) -> dict[str, Any]:
    """The event of one judged window: name by verdict, the scenario's validation as resource, counts as payload."""
    label = scenario_label(scenario)
    return {
        "event": f"{EVENT_PREFIX}.{'valid' if body['valid'] else 'invalid'}",
        "resource": {
            "prefect.resource.id": f"{RESOURCE_PREFIX}.{label}",
            "prefect.resource.name": f"{label} validation",
        },
        "payload": {
            "window": window_label(body["start"], body["end"]),
            "start": body["start"],
            "end": body["end"],
            "valid": body["valid"],
            "completeness": round(body["completeness"], 6),
            "counts": body["counts"],
            "errors": len(body["errors"]),
            "messages": body.get("messages", 0),
            "late": body.get("late", 0),
        },
    }


@task(name="announce-window", cache_policy=NO_CACHE)
def announce_window(body: WindowReport, scenario: str) -> str:
    """Emit one Prefect event for the window (`tiro.validation.window.valid` / `.invalid`); returns its name."""
    event = window_event(body, scenario)
    emit_event(**event)
    return event["event"]

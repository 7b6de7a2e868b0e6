"""Tasks: validate a snapshot against the compiled model, and publish the report (artifacts, log line, log file)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tiro_models.spec import Model
from tiro_models.validate import ValidationResult, validate

REPORT_KEY = "validation-window"
MAX_LISTED_ERRORS = 50


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


def report_body(result: ValidationResult, **window: Any) -> dict[str, Any]:
    """The JSON report of one window: the result's fields plus what was read (messages, items, empty…)."""
    return {**result.to_dict(), "strict": result.strict, **window}


def markdown_report(body: dict[str, Any]) -> str:
    """A short human report: verdict, counts, and the first errors with their paths."""
    verdict = "valid" if body["valid"] else "INVALID"
    lines = [f"# Validation window {body['start']} – {body['end']}: **{verdict}**", ""]
    if body.get("empty"):
        lines += ["No message was retained in this window: every required data point is missing.", ""]
    counts = {**body["counts"], "messages": body.get("messages", 0), "items": body.get("items", 0)}
    lines += ["| count | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in counts.items()), ""]
    lines.append(f"Completeness: {body['completeness']:.1%}")
    errors = body["errors"]
    if errors:
        lines += ["", f"## {len(errors)} error(s)", ""]
        lines += [f"- `{e['path']}`: {e['msg']} ({e['type']})" for e in errors[:MAX_LISTED_ERRORS]]
        if len(errors) > MAX_LISTED_ERRORS:
            lines.append(f"- … and {len(errors) - MAX_LISTED_ERRORS} more")
    return "\n".join(lines)


def summary_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
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


@task(name="publish-validation-report", cache_policy=NO_CACHE)
def publish_validation_report(body: dict[str, Any], log_file: str | None = None) -> dict[str, Any]:
    """Create the table and markdown artifacts, log the report as one JSON line, and append it to `log_file`."""
    description = f"Validation of {body['start']} – {body['end']}"
    create_table_artifact(summary_rows(body), key=REPORT_KEY, description=description)
    create_markdown_artifact(markdown_report(body), key=f"{REPORT_KEY}-report", description=description)
    line = json.dumps(body, ensure_ascii=False, default=str)
    get_run_logger().info(line)
    if log_file:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")
    return body

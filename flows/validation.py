"""Flow `validate_window`: validate the data retained on JetStream for the last `window` seconds (or [start, end))."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow
from prefect.states import Completed, Failed, State

from karez.nats_options import resolve_address
from tiro.settings import store_urls, telemetry_store_configured
from tiro.window_report import WindowReport, window_label
from tiro_prefect.tasks.retained import ensure_retention, read_retained_window
from tiro_prefect.tasks.scenario import load_scenario
from tiro_prefect.tasks.validation import announce_window, publish_validation_report, report_body, validate_snapshot
from tiro_prefect.tasks.window_history import history_or_nothing, publish_completeness_chart

INVALID_MARK = " is invalid: "  # in the message of an invalid window's state, after the window


class InvalidWindow(Exception):
    """The error of an invalid window's Failed state (calling the flow raises it); `report` is the window's report."""

    def __init__(self, message: str, report: WindowReport) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[type[InvalidWindow], tuple[str, WindowReport]]:
        return (InvalidWindow, (str(self), self.report))  # Prefect persists the state's exception: keep the report


def window_state(body: WindowReport, fail_on_invalid: bool) -> WindowReport | State:
    """The run's end: the report (Completed) when valid; else the window and its verdict in the state's message:
    Failed by default (red in the UI and counted as failed on the dashboard; the call raises `InvalidWindow`),
    Completed with `fail_on_invalid=False` (the call returns the report). The state keeps its standard name because
    Prefect's deployment and flow pages list runs by the standard state names and would hide a custom one."""
    if body["valid"]:
        return body
    label = window_label(body["start"], body["end"])
    message = f"window {label}{INVALID_MARK}{len(body['errors'])} error(s), {body['completeness']:.1%} complete"
    if fail_on_invalid:
        return Failed(message=message, data=InvalidWindow(message, body))
    return Completed(message=message, data=body)


async def window_report(state: State) -> WindowReport:
    """The report of a finished validate-window run, valid or not (other failures raise)."""
    try:
        result: WindowReport = await state.result()
    except InvalidWindow as invalid:
        return invalid.report
    return result


def results_store_url(given: str | None) -> str | None:
    """Where window results are kept: the given URL ("none": nowhere), else the telemetry store of Tiro's settings
    when one is configured or in deployment runs; local runs (CLI, demo, tests) on the default store keep none."""
    from prefect.runtime import deployment

    if given or telemetry_store_configured() or deployment.id is not None:
        return store_urls(given).telemetry
    return None


def window_bounds(window: float, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end): explicit bounds, or the `window` seconds up to `end` (default now)."""
    if window <= 0 and start is None:
        raise ValueError(f"window must be positive seconds, got {window}")
    end = _aware(end) if end is not None else datetime.now(UTC)
    start = _aware(start) if start is not None else end - timedelta(seconds=window)
    if end <= start:
        raise ValueError(f"the window end {end.isoformat()} must be after its start {start.isoformat()}")
    return start, end


def scheduled_end() -> datetime | None:
    """In a deployment run, the run's scheduled time: windows follow the schedule, not when a worker got to it."""
    from prefect.runtime import deployment, flow_run

    if deployment.id is None:
        return None
    return schedule_aligned_end(flow_run.scheduled_start_time, datetime.now(UTC))


def schedule_aligned_end(scheduled: datetime | None, now: datetime) -> datetime | None:
    """The scheduled time (never in the future), or None when the run has none."""
    return min(_aware(scheduled), _aware(now)) if scheduled is not None else None


@flow(name="validate-window", log_prints=False, persist_result=True)
async def validate_window(
    scenario: str,
    uses: list[str],
    window: float = 60,
    strict: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    nats_url: str | None = None,
    retention: float = 3600,
    max_age: float | None = None,
    fail_on_invalid: bool = True,
    log_file: str | None = None,
    allowed_lateness: float | None = None,
    results_store: str | None = None,
    replicas: int | None = None,
) -> WindowReport | State:
    """Validate the latest value per data-point path whose samples count in the window by event time, once its
    allowed lateness has passed (None: twice the p99 of sample age on arrival); report, announce, keep and return
    the result. An invalid window ends Failed (Completed with `fail_on_invalid=False`), in a run named `INVALID · …`.
    `replicas`: copies of the retention stream it creates (None: 3 on a cluster of three nodes, else 1)."""
    bounds = window_bounds(window, start, end if end is not None else scheduled_end())
    address = resolve_address(nats_url)
    model = load_scenario(scenario, uses, strict)
    await ensure_retention(address, retention, replicas)
    retained = await read_retained_window(address, *bounds, allowed_lateness)
    result = validate_snapshot(model, retained.snapshot, *bounds, strict=strict, max_age=max_age)
    body = report_body(
        result,
        empty=retained.empty,
        messages=retained.messages,
        items=retained.items,
        collection_size=len(retained.snapshot),
        late=retained.late,
        allowed_lateness=round(retained.allowed_lateness, 3),
        rejected=retained.rejected[:20],
    )
    publish_validation_report(body, log_file)
    announce_window(body, scenario)
    if (url := results_store_url(results_store)) is not None:
        publish_completeness_chart(history_or_nothing(body, url))
    return window_state(body, fail_on_invalid)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

"""The `tiro_validate` aggregator: validates collected data in aligned windows and logs one JSON line each."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from karez.aggregator.base import AggregatorBase
from karez.config import ConfigEntity, OptionalConfigEntity
from karez.frames import COLUMNS_KEY, expand, series_ids, split_schema
from karez.role import LeaseGate
from tiro.frames import COLUMNS, POINTS, samples
from tiro.plugins.karez.schema_windows import schema_check
from tiro.plugins.karez.settings import model_for, split_uses
from tiro.plugins.karez.windows import WindowedValidator, WindowReport, model_check
from tiro.stores.urls import redact_url
from tiro.stores.window_results import WindowResult, WindowResultStore, open_window_results
from tiro_models.validation.event_time import parse_lateness


class ValidationAggregator(AggregatorBase):
    """Validates `{path, result}` items against a scenario (or a JSON Schema) once per `retention` window."""

    ONE_WORKER = True  # a window must see every point: `karez deploy --workers N` runs it in one process

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Scenario and uses (or a JSON Schema file), window length, log file and strictness."""
        yield from super().config_entities()
        yield OptionalConfigEntity("scenario", None, "Scenario YAML")
        yield OptionalConfigEntity("uses", None, "Uses YAML file(s): a list or a comma-separated string")
        yield OptionalConfigEntity("schema", None, "JSON Schema file, used when no scenario is given")
        yield OptionalConfigEntity("retention", 60, "Window length in seconds")
        yield OptionalConfigEntity(
            "allowed_lateness", "auto", "Seconds a window waits for late samples after its end ('auto': 2 × p99 age)"
        )
        yield OptionalConfigEntity("log_file", None, "Append one JSON line per window to this file")
        yield OptionalConfigEntity(
            "results_store", None, "Keep each window's result in this store (sqlite:///tiro.db or an InfluxDB URL)"
        )
        yield OptionalConfigEntity("verbose", False, "Also print each window's full JSON report (not just one line)")
        yield OptionalConfigEntity("strict", False, "Strict validation (unknown points, counts, staleness)")
        yield OptionalConfigEntity("max_age", None, "Strict mode: seconds after which a value is stale")

    @classmethod
    def role_description(cls) -> str:
        """Shown by `karez plugins`."""
        return "Validate collected Tiro data in time windows."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reports: deque[WindowReport] = deque(maxlen=100)
        self.windows = self._build_validator(time.time())
        self._results: WindowResultStore | None = None

    def resume_from(self, state: dict[str, Any] | None, lease: LeaseGate) -> None:
        """After taking over from another host (karez.leader): a fresh validator whose first window is partial, as at
        start-up (this instance saw none of the window's earlier points)."""
        self.windows = self._build_validator(time.time())

    def _build_validator(self, now: float) -> WindowedValidator:
        if self.config.scenario:
            model = model_for(self.config.scenario, split_uses(self.config.uses))
            max_age = self.config.max_age
            check = model_check(
                model, strict=bool(self.config.strict), max_age=float(max_age) if max_age is not None else None
            )
        else:
            schema = self.config.schema  # entity lookup is case-insensitive: upstream's `Schema` key works too
            if not schema:
                raise ValueError(f"{self._log_name}: give either 'scenario' (with 'uses') or 'schema'")
            check = schema_check(json.loads(Path(schema).read_text(encoding="utf-8")))
        lateness = parse_lateness(self.config.allowed_lateness)
        return WindowedValidator(check, float(self.config.retention), started_at=now, lateness=lateness)

    def process(self, payload: Any) -> None:  # type: ignore[override]  # a sync process is awaited only if awaitable
        """Collect one `{path, result}` item into the current window."""
        if not isinstance(payload, dict) or "path" not in payload or "result" not in payload:
            self.stats.dropped += 1
            self.log("error", f"Dropped an item without 'path' and 'result': {str(payload)[:120]}")
            return
        if not isinstance(payload["path"], str):
            self.stats.dropped += 1
            self.log("error", f"Dropped an item whose 'path' is not a string: {str(payload)[:120]}")
            return
        self.windows.collect(payload["path"], payload["result"], time.time())

    FRAMES = True

    async def handle_items(self, items: list[Any], subject: str) -> list[tuple[str, Any]]:
        """Collect a batch into the current window (a `tiro.points` frame's samples straight from its columns); odd
        items go through `process` (dropped and logged there)."""
        if type(self).process is not ValidationAggregator.process or self.delivery.redelivers or self.config.offload:
            return await super().handle_items(expand(items), subject)
        good: list[tuple[str, Any]] = []
        if self.frames_encoding is not None:
            arrival = time.time()
            framed, items = split_schema(items, POINTS.name)
            for frame in framed:
                try:
                    columns = frame[COLUMNS_KEY]
                    paths, values, stamps, units = (columns[name] for name in COLUMNS)
                    self.windows.collect_columns(paths, values, stamps, units, arrival, series_ids(frame))
                except Exception:  # one bad sample must not cost the good ones: collect them one by one
                    good += samples(frame)
        for payload in items:
            path = payload.get("path") if payload.__class__ is dict else None
            if path.__class__ is str and "result" in payload:
                good.append((path, payload["result"]))
            else:
                self._process_one(payload, subject)
        try:
            self.windows.collect_many(good, time.time())
        except Exception:  # one bad result must not cost the good ones: collect them one by one
            for path, result in good:
                self._process_one({"path": path, "result": result}, subject)
        return []

    def _process_one(self, payload: Any, subject: str) -> None:
        try:
            self.process(payload)
        except Exception as e:
            self.log_exception(e, f"Error processing message from {subject}")

    async def run(self) -> None:
        """Subscribe, and close each window on time even when no data arrives."""
        timer = asyncio.create_task(self._close_windows(), name=f"{self._log_name}:windows")
        try:
            await super().run()
        finally:
            timer.cancel()

    async def _close_windows(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self.windows.next_deadline() - time.time()))
            for report in self.windows.due(time.time()):
                self.report(report)

    def report(self, report: WindowReport) -> None:
        """Print one summary line (and the full JSON report when `verbose`), and append the report to `log_file`."""
        self.reports.append(report)
        body = report.to_dict()
        print(f"[{self.name}] {report.summary_line()}", flush=True)
        if self.config.verbose:
            print(json.dumps(body, indent=2, ensure_ascii=False), flush=True)
        if self.config.log_file:
            with open(self.config.log_file, "a", encoding="utf-8") as log:
                log.write(json.dumps(body, ensure_ascii=False) + "\n")
        if self.config.results_store:
            self._keep(body)

    def _keep(self, body: dict[str, Any]) -> None:
        """Write the window's result to `results_store`; a store that fails is logged, the role keeps validating."""
        try:
            if self._results is None:
                self._results = open_window_results(str(self.config.results_store))
            self._results.write(WindowResult.from_report(body, source="aggregator"))
        except Exception as e:  # never re-raised: this runs on the window timer, which must keep closing windows
            self.stats.errors += 1
            where = redact_url(str(self.config.results_store))
            self.log("error", f"Window result not kept in {where}: {type(e).__name__}: {e}")

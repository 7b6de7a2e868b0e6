"""Flow `pipeline`, the main job: NATS, stores, mock server, Karez roles, a validation every window, a summary."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from karez.embedded_nats import EmbeddedNats
from tiro.examples import example_dir, example_files
from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.plugins.karez.store_aggregator import TiroStoreAggregator
from tiro.window_report import WindowReport
from tiro_prefect.flows.bootstrap import bootstrap_stores
from tiro_prefect.flows.mock import mock_service
from tiro_prefect.flows.progress import report
from tiro_prefect.flows.validation import validate_window
from tiro_prefect.tasks.retained import ensure_retention
from tiro_prefect.tasks.roles import RoleGroup, start_role_group, stop_role_group
from tiro_prefect.tasks.stores import count_persisted

STORE_CATEGORY = "store_data"
VALIDATION_BRANCH = "update_category_for_validator"  # the converter that sends every collected item to validation


def pipeline_roles(mock_url: str, store_url: str, scenario: str, uses: list[str], interval: float) -> dict[str, Any]:
    """The Karez configuration of the main job (the seed walkthrough's roles, batched, persisting durably, with
    frames from the connector to the store)."""
    return {
        "dispatchers": [
            {"type": "tiro_mock", "connector": "tiro_mock", "by": "path", "batch_size": 200, "interval": interval,
             "mode": "burst", "base_url": mock_url},
        ],
        "connectors": [
            # durable, so that the durable converters run fused in its process (karez.fusion): one hop per chain
            {"type": "tiro_mock", "base_url": mock_url, "by": "path", "batch": True, "durable": True, "frames": True,
             "converter": [VALIDATION_BRANCH, "tiro_preprocess"]},
        ],
        "converters": [
            {"name": VALIDATION_BRANCH, "type": "filter_and_update_meta", "key": "category",
             "rename": {"telemetry": "validation_data", "attribute": "validation_data"}, "batch": True, "frames": True},
            {"type": "tiro_preprocess", "next": ["to_store"], "batch": True, "durable": True, "frames": True},
            {"name": "to_store", "type": "filter_and_update_meta", "key": "category",
             "rename": {"telemetry": STORE_CATEGORY, "attribute": STORE_CATEGORY}, "batch": True, "durable": True,
             "frames": True},
        ],
        "aggregators": [
            {"type": "tiro_store", "category": STORE_CATEGORY, "store": store_url, "scenario": scenario,
             "uses": uses, "flush_interval": 0.5, "durable": True, "frames": True},
        ],
    }  # fmt: skip


@asynccontextmanager
async def nats_address(nats_url: str | None) -> AsyncIterator[str]:
    """The configured NATS, or an embedded nats-server with JetStream for the duration of the block."""
    if nats_url:
        yield nats_url
        return
    async with EmbeddedNats() as server:
        yield server.url


def role_counts(group: RoleGroup) -> dict[str, int]:
    """Items collected (what the validation branch received from the mock connector, in memory or over NATS) and
    records persisted by the store aggregator."""
    roles = group.runtime.roles
    collected = sum(role.stats.received for role in roles.get("converter", []) if role.name == VALIDATION_BRANCH)
    persisted = sum(role.written for role in roles.get("aggregator", []) if isinstance(role, TiroStoreAggregator))
    return {"collected": collected, "persisted_records": persisted}


def summary_markdown(summary: dict[str, Any]) -> str:
    """The pipeline summary as markdown (artifact)."""
    lines = [
        f"# Pipeline summary ({summary['duration']:.0f} s)",
        "",
        f"- data points collected: {summary['collected']}",
        *(f"- persisted in the {store} store: {n}" for store, n in summary["persisted"].items()),
        f"- validation windows: {summary['windows_valid']} valid, {summary['windows_invalid']} invalid",
    ]
    return "\n".join(lines)


@flow(name="pipeline")
async def pipeline(
    scenario_dir: str | None = None,
    duration: float = 30,
    window: float = 10,
    collect_interval: float = 2,
    nats_url: str | None = None,
    store_url: str | None = None,
    workdir: str | None = None,
    seed: int | None = 7,
    strict: bool = False,
) -> dict[str, Any]:
    """Run the whole job for `duration` seconds on embedded defaults (or the given NATS/store) and summarise it."""
    started = time.monotonic()
    scenario_path, uses_paths = example_files(Path(scenario_dir) if scenario_dir else example_dir())
    scenario, uses = str(scenario_path), [str(u) for u in uses_paths]
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tiro-pipeline-"))
    store_url = store_url or f"sqlite:///{work / 'tiro.db'}"
    plugin_dir = str(scenario_path.parent / "karez")
    logger = get_run_logger()

    async with nats_address(nats_url) as address:
        report("nats", url=address, embedded=nats_url is None)
        bootstrap = bootstrap_stores(scenario, uses, store_url, store_url)
        report("bootstrap", stores=bootstrap)
        retention = max(10 * window, 600)
        await ensure_retention(address, retention=retention)
        mock = BackgroundServer(create_asgi(mock_service(scenario, uses, seed)))
        await asyncio.to_thread(mock.start)
        report("mock", url=mock.url)
        settings = pipeline_roles(mock.url, store_url, scenario, uses, collect_interval)
        group = await start_role_group(settings, plugin_dir, address)
        report("roles", roles=group.role_counts())
        windows: list[WindowReport] = []
        try:
            windows = await validate_every_window(
                scenario, uses, address, window, started + duration, strict, group, retention
            )
        finally:
            final_stats = await stop_role_group(group)
            await asyncio.to_thread(mock.stop)
        counts = role_counts(group)
        persisted = count_persisted(store_url, store_url)
    summary = {
        "duration": time.monotonic() - started,
        "collected": counts["collected"],
        "persisted_records": counts["persisted_records"],
        "persisted": persisted,
        "windows_valid": sum(1 for w in windows if w["valid"]),
        "windows_invalid": sum(1 for w in windows if not w["valid"]),
        "windows": [{k: w[k] for k in ("start", "end", "valid", "collection_size", "completeness")} for w in windows],
        "roles": final_stats,
        "store_url": store_url,
    }
    await acreate_markdown_artifact(summary_markdown(summary), key="pipeline-summary", description="Pipeline summary")
    logger.info("Pipeline summary: %s", {k: v for k, v in summary.items() if k not in ("windows", "roles")})
    report("done", summary=summary)
    return summary


async def validate_every_window(
    scenario: str,
    uses: list[str],
    address: str,
    window: float,
    deadline: float,
    strict: bool,
    group: RoleGroup,
    retention: float,
) -> list[WindowReport]:
    """Validate [t, t + window) as each window closes, from now until the deadline (monotonic seconds)."""
    results: list[WindowReport] = []
    start = datetime.now(UTC)
    while time.monotonic() + window <= deadline + 0.5:
        end = start + timedelta(seconds=window)
        while (wait := (end - datetime.now(UTC)).total_seconds()) > 0:
            await asyncio.sleep(min(wait, 1.0))
            report("collecting", **role_counts(group), window_end=end.isoformat())
        # the job's own summary gives the verdicts: its windows end Completed either way
        body = await validate_window(
            scenario,
            uses,
            start=start,
            end=end,
            nats_url=address,
            strict=strict,
            retention=retention,
            fail_on_invalid=False,
        )
        results.append(cast(WindowReport, body))  # fail_on_invalid=False: always the report
        report(
            "window", result=body, valid=sum(w["valid"] for w in results), invalid=sum(not w["valid"] for w in results)
        )
        start = end
    return results

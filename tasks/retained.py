"""Tasks: make sure the retention stream exists, and read a retained window from JetStream."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from karez.cluster import stream_replicas
from tiro.retention import RetainedWindow, ensure_retention_stream, read_window
from tiro_prefect.tasks.nats_link import nats_connection


@task(name="ensure-retention-stream", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
async def ensure_retention(nats_url: str, retention: float, replicas: int | None = None) -> str:
    """Create the `karez.validation_data.>` stream with max_age = retention if missing ("created"/"updated"/…);
    `replicas`: its copies (None: 3 on a NATS cluster of three or more nodes, else 1)."""
    async with nats_connection(nats_url) as nc:
        return await ensure_retention_stream(nc.jetstream(), retention, replicas=stream_replicas(nc, replicas))


@task(name="read-retained-window", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
async def read_retained_window(
    nats_url: str, start: datetime, end: datetime, allowed_lateness: float | None = None
) -> RetainedWindow:
    """The latest value per data-point path of the retained samples that count in [start, end) by event time, read
    once the allowed lateness after `end` has passed (None: estimated from the samples' ages on arrival)."""
    async with nats_connection(nats_url) as nc:
        return await read_window(nc.jetstream(), start, end, lateness=allowed_lateness)

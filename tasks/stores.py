"""Tasks: bootstrap the telemetry and graph stores named by URL (idempotent; reports what changed)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tiro.stores.urls import open_graph_store, open_telemetry_store
from tiro_models.spec import Model


@task(name="bootstrap-telemetry-store", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def bootstrap_telemetry_store(url: str) -> dict[str, Any]:
    """Create the bucket/tables (with retention) if missing; what was created or changed (URL without secrets)."""
    store = open_telemetry_store(url)
    try:
        return store.bootstrap().to_dict()
    finally:
        store.close()


@task(name="bootstrap-graph-store", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def bootstrap_graph_store(url: str, model: Model) -> dict[str, Any]:
    """Create the graph, collections and indexes from the model and remove vanished topology; what changed."""
    store = open_graph_store(url)
    try:
        return store.bootstrap(model).to_dict()
    finally:
        store.close()


def persisted_counts(telemetry_url: str | None, graph_url: str | None) -> dict[str, int]:
    """How much the stores hold: telemetry samples and graph data points with a value."""
    counts: dict[str, int] = {}
    if telemetry_url:
        telemetry = open_telemetry_store(telemetry_url)
        try:
            counts["telemetry"] = sum(len(samples) for samples in telemetry.history("%%", since=0).values())
        finally:
            telemetry.close()
    if graph_url:
        graph = open_graph_store(graph_url)
        try:
            counts["graph"] = len(graph.latest())
        finally:
            graph.close()
    return counts


@task(name="count-persisted", cache_policy=NO_CACHE)
def count_persisted(telemetry_url: str | None, graph_url: str | None) -> dict[str, int]:
    """Telemetry samples and graph data points stored (for the pipeline's summary)."""
    return persisted_counts(telemetry_url, graph_url)

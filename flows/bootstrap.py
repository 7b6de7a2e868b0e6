"""Flow `bootstrap_stores`: the telemetry bucket and the asset graph from the scenario (idempotent)."""

from __future__ import annotations

import os
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tasks.scenario import load_scenario
from tasks.secrets import load_store_secrets
from tasks.stores import bootstrap_graph_store, bootstrap_telemetry_store

DEFAULT_STORE_URL = "sqlite:///tiro.db"


def store_url(given: str | None, env_name: str) -> str | None:
    """The store URL to use: the given one, the environment's, or the sqlite default; None for "none"."""
    url = given or os.environ.get(env_name) or DEFAULT_STORE_URL
    return None if url.strip().lower() == "none" else url


@flow(name="bootstrap-stores")
def bootstrap_stores(
    scenario: str,
    uses: list[str],
    telemetry_url: str | None = None,
    graph_url: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Bootstrap each configured store; per store what was created, changed or removed (empty: already in place).

    A URL left out comes from $TIRO_TELEMETRY_URL / $TIRO_GRAPH_URL, else sqlite:///tiro.db; "none" skips that store.
    """
    telemetry_url = store_url(telemetry_url, "TIRO_TELEMETRY_URL")
    graph_url = store_url(graph_url, "TIRO_GRAPH_URL")
    load_store_secrets()
    model = load_scenario(scenario, uses)
    reports: dict[str, dict[str, Any]] = {}
    if telemetry_url:
        reports["telemetry"] = bootstrap_telemetry_store(telemetry_url)
    if graph_url:
        reports["graph"] = bootstrap_graph_store(graph_url, model)
    rows = [
        {
            "store": name,
            "url": r["store"],
            "created": len(r["created"]),
            "changed": len(r["changed"]),
            "removed": len(r["removed"]),
        }
        for name, r in reports.items()
    ]
    create_table_artifact(rows, key="bootstrap-stores", description="What the bootstrap created, changed or removed")
    get_run_logger().info("Bootstrap: %s", rows)
    return reports

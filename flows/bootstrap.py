"""Flow `bootstrap_stores`: the telemetry bucket and the asset graph from the scenario (idempotent)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tiro.settings import GRAPH_ENV, TELEMETRY_ENV, store_urls
from tiro_prefect.tasks.scenario import load_scenario
from tiro_prefect.tasks.secrets import load_store_secrets
from tiro_prefect.tasks.stores import bootstrap_graph_store, bootstrap_telemetry_store


def store_url(given: str | None, env_name: str = TELEMETRY_ENV) -> str | None:
    """One store's URL as tiro.settings decides it (`env_name`: TIRO_TELEMETRY_URL or TIRO_GRAPH_URL); None: off."""
    urls = store_urls(given, given)
    return urls.graph if env_name == GRAPH_ENV else urls.telemetry


@flow(name="bootstrap-stores")
def bootstrap_stores(
    scenario: str,
    uses: list[str],
    telemetry_url: str | None = None,
    graph_url: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Bootstrap each configured store; per store what was created, changed or removed (empty: already in place).

    A URL left out comes from Tiro's store settings ($TIRO_TELEMETRY_URL / $TIRO_GRAPH_URL, else $TIRO_STORE, else
    sqlite:///tiro.db); "none" skips that store.
    """
    urls = store_urls(telemetry_url, graph_url)
    load_store_secrets()
    model = load_scenario(scenario, uses)
    reports: dict[str, dict[str, Any]] = {}
    if urls.telemetry:
        reports["telemetry"] = bootstrap_telemetry_store(urls.telemetry)
    if urls.graph:
        reports["graph"] = bootstrap_graph_store(urls.graph, model)
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

"""Filling a store URL with records for the query and settings tests."""

from __future__ import annotations


def store_records(url: str, records: list) -> str:
    """Write `records` into both stores of a store URL (telemetry samples, graph points); return the URL."""
    from tiro.stores.urls import open_graph_store, open_telemetry_store

    telemetry, graph = open_telemetry_store(url), open_graph_store(url)
    try:
        telemetry.write_records(records)
        graph.upsert_records(records)
    finally:
        telemetry.close()
        graph.close()
    return url

"""The main job: `tiro demo --duration 20` persists and validates; bootstrap_stores is idempotent."""

from __future__ import annotations

from typer.testing import CliRunner

from tiro.mock.service import example_service
from tiro_prefect.cli.app import app
from tiro_prefect.flows.bootstrap import bootstrap_stores
from tiro_prefect.tasks.stores import persisted_counts


def test_demo_runs_the_pipeline_and_persists(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--duration", "20", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Summary" in result.stdout and "  validation windows invalid: 0" in result.stdout.splitlines()
    counts = persisted_counts(f"sqlite:///{tmp_path / 'tiro.db'}", f"sqlite:///{tmp_path / 'tiro.db'}")
    served = len(example_service(seed=7).listed)
    assert counts["graph"] == served  # every point the mock serves reached the graph store
    assert counts["telemetry"] >= served  # at least one sample of each, usually several rounds
    # It ends with what to do next (the store's own URL in ready-to-run commands) and states one duration.
    store = f"sqlite:///{tmp_path / 'tiro.db'}"
    assert f"  tiro query latest '%%' --store {store}" in result.stdout.splitlines()
    assert result.stdout.count(" s\n") <= 1 and "duration" not in result.stdout
    assert "EventsWorker" not in result.output and "| WARNING |" not in result.output  # no third-party log lines


def test_bootstrap_stores_is_idempotent(tmp_path, datahall):
    scenario, uses = datahall
    url = f"sqlite:///{tmp_path / 'stores.db'}"
    first = bootstrap_stores(scenario, uses, url, url)
    assert first["telemetry"]["created"] and first["graph"]["created"]
    assert "***" not in first["graph"]["store"] and first["graph"]["store"].startswith("sqlite:")
    second = bootstrap_stores(scenario, uses, url, url)
    for store in ("telemetry", "graph"):
        assert second[store]["created"] == second[store]["changed"] == second[store]["removed"] == []

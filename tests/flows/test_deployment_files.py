"""The shipped deployment files are consistent: serve.py mirrors prefect.yaml; compose's Karez config is valid."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from karez.config_check import validate_config
from karez.plugins import all_plugins
from karez.runtime import build_roles
from karez.settings import load_settings
from tiro.examples import example_dir

ROOT = Path(__file__).resolve().parents[2]


def test_serve_builds_the_deployments_of_prefect_yaml(serve_module):
    serve = serve_module
    specs = serve.deployment_specs()
    built = {d.name: d for d in serve.runner_deployments(specs)}
    assert set(built) == {"validate-window", "karez-roles", "mock-server", "bootstrap-stores"}
    for spec in specs:
        deployment = built[spec["name"]]
        assert deployment.entrypoint == spec["entrypoint"]
        assert deployment.parameters == spec["parameters"]
    assert [s.schedule.interval.total_seconds() for s in built["validate-window"].schedules] == [60]
    assert built["karez-roles"].concurrency_limit == built["mock-server"].concurrency_limit == 1
    assert not built["bootstrap-stores"].schedules
    for spec in specs:  # every parameter path exists relative to the repository root (or to the roles' workdir)
        params = spec["parameters"]
        base = ROOT / params.get("workdir", ".")
        for key in ("scenario", "plugin_dir"):
            if key in params:
                assert (base / params[key]).exists(), (spec["name"], key)
        for path in params.get("uses", []) + params.get("config", []):
            assert (base / path).exists(), (spec["name"], path)


def test_compose_karez_config_is_valid_for_the_example(tmp_path, monkeypatch):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    folder = tmp_path / "datahall"
    shutil.copytree(example_dir("datahall"), folder)
    (folder / "karez" / "aggregator" / "tiro_store.py").write_text(compose["configs"]["tiro-store-plugin"]["content"])
    config = tmp_path / "karez-production.yaml"
    config.write_text(compose["configs"]["karez-production"]["content"])
    monkeypatch.chdir(folder)
    monkeypatch.setenv("TIRO_TELEMETRY_URL", "sqlite:///t.db")
    monkeypatch.setenv("TIRO_GRAPH_URL", "sqlite:///g.db")
    settings = load_settings([str(config)])
    plugins = all_plugins("karez")
    report = validate_config(settings, plugins)
    assert report.ok, report.errors
    roles = build_roles(settings, plugins)
    categories = [r.config.category for r in roles["aggregator"]]
    assert len(categories) == len(set(categories))  # durable work-queue consumers must not overlap
    assert "validation_data" not in categories  # the retention stream owns karez.validation_data.>

"""The service deployments run again after a crash: their triggers match their own crashed runs, in both ways to
deploy (prefect.yaml with `prefect deploy`, and deployments/serve.py)."""

from __future__ import annotations

from pathlib import Path

from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"karez-roles", "mock-server"}


def test_each_service_reruns_on_a_crash_of_its_own_runs(serve_module):
    serve = serve_module
    specs = {spec["name"]: spec for spec in serve.deployment_specs()}
    built = {d.name: d for d in serve.runner_deployments(list(specs.values()))}
    assert {name for name, d in built.items() if d.triggers} == SERVICES
    for name in SERVICES:
        (trigger,) = built[name].triggers
        flow_name = load_flow_from_entrypoint(str(ROOT / specs[name]["entrypoint"])).name
        assert trigger.expect == {"prefect.flow-run.Crashed"}
        assert trigger.match.root == {"prefect.resource.id": "prefect.flow-run.*"}
        related = [spec.root for spec in trigger.match_related]
        assert {"prefect.resource.role": "flow", "prefect.resource.name": flow_name} in related
        assert {"prefect.resource.role": "deployment", "prefect.resource.name": name} in related
        assert trigger.parameters is None  # the deployment's own parameters, as when it was started

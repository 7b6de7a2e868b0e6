"""Serve the deployments of deployments/prefect.yaml without a work pool: `python deployments/serve.py`.

Runs from the repository root (relative paths in parameters are relative to it); stop with Ctrl-C (schedules are
paused on shutdown). Needs a Prefect API: `prefect server start` and PREFECT_API_URL, or Prefect Cloud. The services'
triggers run a crashed service again while this process serves its deployment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from prefect import serve
from prefect.events import DeploymentTriggerTypes
from prefect.flows import load_flow_from_entrypoint
from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = Path(__file__).resolve().parent / "prefect.yaml"


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The `deployments:` entries of prefect.yaml (YAML anchors resolved)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]


def deployment_triggers(spec: dict[str, Any]) -> list[Any]:
    """The spec's `triggers:` (e.g. run a service again when it crashes), named as `prefect deploy` names them."""
    adapter: TypeAdapter[Any] = TypeAdapter(DeploymentTriggerTypes)
    return [
        adapter.validate_python({"name": f"{spec['name']}__automation_{i}", **trigger})
        for i, trigger in enumerate(spec.get("triggers") or [], start=1)
    ]


def runner_deployments(specs: list[dict[str, Any]]) -> list[Any]:
    """Each spec as a RunnerDeployment: same name, entrypoint, parameters, schedules, concurrency limit, triggers."""
    deployments = []
    for spec in specs:
        flow: Any = load_flow_from_entrypoint(str(ROOT / spec["entrypoint"]))
        intervals = [s["interval"] for s in spec.get("schedules") or [] if "interval" in s]
        crons = [s["cron"] for s in spec.get("schedules") or [] if "cron" in s]
        deployments.append(
            flow.to_deployment(
                name=spec["name"],
                description=spec.get("description"),
                tags=spec.get("tags"),
                parameters=spec.get("parameters"),
                interval=intervals or None,
                cron=crons or None,
                concurrency_limit=spec.get("concurrency_limit"),
                triggers=deployment_triggers(spec) or None,
            )
        )
    return deployments


def main() -> None:
    """Serve every deployment until interrupted."""
    os.chdir(ROOT)
    serve(*runner_deployments(deployment_specs()))


if __name__ == "__main__":
    main()

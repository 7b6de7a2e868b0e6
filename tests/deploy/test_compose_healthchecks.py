"""Every health check in docker-compose.yml runs a program that its service's image really ships.

No Docker engine runs here, so the images' contents come from their published Dockerfiles (table and sources in
image_programs.py). To check another version of the file: `TIRO_COMPOSE_FILE=old.yml pytest tests/deploy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import ROOT, compose_path, depends_on, health_test, load_compose, programs_called
from image_programs import image_programs, missing_programs


def health_check_problems(compose: dict[str, Any], compose_dir: Path) -> list[str]:
    """One line per health check that calls a program missing from its image, or a dependency that has no check."""
    problems = []
    services = compose["services"]
    for name, service in services.items():
        image, missing = missing_programs(name, service, compose_dir)
        problems += [f"{name}: the health check runs {p!r}, which image {image} does not ship" for p in missing]
        for dependency, condition in depends_on(service).items():
            if condition == "service_healthy" and health_test(services[dependency]) is None:
                problems.append(f"{name} waits for {dependency} to be healthy, but {dependency} has no health check")
    return problems


def test_every_health_check_runs_a_program_of_its_image():
    path = compose_path()
    assert health_check_problems(load_compose(path), path.parent) == []


def test_dependants_wait_for_health_not_just_a_start():
    compose = load_compose()
    waited_for = {
        dep for s in compose["services"].values() for dep, c in depends_on(s).items() if c != "service_started"
    }
    assert {"nats", "prefect-server", "mock", "influxdb", "arangodb"} <= waited_for


# The nats service as it shipped before: the scratch image has no wget, so it never became healthy.
SCRATCH_NATS_WITH_WGET = """
services:
  nats:
    image: nats:2.10
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:8222/healthz?js-enabled-only=true"]
  worker:
    image: nats:2.10-alpine
    depends_on:
      nats: {condition: service_healthy}
"""


def test_wget_in_the_scratch_nats_image_is_reported():
    problems = health_check_problems(yaml.safe_load(SCRATCH_NATS_WITH_WGET), ROOT)
    assert problems == ["nats: the health check runs 'wget', which image nats:2.10 does not ship"]


@pytest.mark.parametrize(
    ("test", "called"),
    [
        ("wget -q -O- http://127.0.0.1/ || exit 1", ["sh", "wget"]),
        (["CMD-SHELL", "A=1 curl -f http://x/ && echo ok"], ["sh", "curl"]),
        (["CMD", "/nats-server", "--help"], ["/nats-server"]),
    ],
)
def test_programs_called_by_a_health_check(test, called):
    assert programs_called(health_test({"healthcheck": {"test": test}})) == called


def test_a_shell_check_needs_a_shell_and_an_unknown_image_is_an_error():
    shell_check = {"services": {"nats": {"image": "nats:2.10", "healthcheck": {"test": "nats-server --version"}}}}
    assert health_check_problems(shell_check, ROOT) == [
        "nats: the health check runs 'sh', which image nats:2.10 does not ship"
    ]
    unknown = {"services": {"db": {"image": "postgres:16", "healthcheck": {"test": ["CMD", "pg_isready"]}}}}
    with pytest.raises(LookupError, match="postgres:16"):
        health_check_problems(unknown, ROOT)


def test_the_built_image_runs_python_and_the_project_scripts():
    compose = load_compose()
    _, programs = image_programs("worker", compose["services"]["worker"], compose_path().parent)
    assert {"python", "tiro", "karez", "prefect"} <= programs
    assert not {"wget", "curl"} & programs

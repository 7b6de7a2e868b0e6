"""Which programs each image of docker-compose.yml ships, and where that is written.

Only programs named in the published Dockerfile (or its entrypoint script) are listed, never ones an image might have.
Sources, read from the image maintainers' repositories:

- nats:2.10 — docker-library/official-images `library/nats`: the tag `2.10` is a shared tag whose Linux image is the
  `2.10.x/scratch` directory of nats-io/nats-docker (nanoserver on Windows). That Dockerfile is `FROM scratch` and
  copies in `/nats-server` (and its config) only: no shell, no wget, no curl.
- nats:2.10-alpine — same `library/nats` file: tag `2.10-alpine` is `2.10.x/alpine3.*`. That Dockerfile is
  `FROM alpine:3.*` and its own RUN step calls `wget`, `sha256sum`, `tar`, `mv` and `rm` from the base image (BusyBox)
  before any `apk add`; it installs `nats-server` in /usr/local/bin and `docker-entrypoint.sh`, a `#!/bin/sh` script.
- influxdb:2.7 — influxdata/influxdata-docker `influxdb/2.7/Dockerfile`: Debian slim with `apt-get install curl
  gnupg`; installs `dasel`, `gosu`, `influxd` and the `influx` CLI in /usr/local/bin. Its `entrypoint.sh` is a bash
  script that waits for the server with `influx ping`. No wget.
- arangodb:3.11 — arangodb/arangodb-docker `alpine/3.11.*/Dockerfile`: `FROM alpine:3.16`…`3.21`, calls BusyBox
  `wget` in its RUN step, `apk add pwgen numactl nodejs …`, unpacks the arangodb3 .deb (`arangod`, `arangosh`,
  `arangorestore`, `arango-init-database`); the `#!/bin/sh` entrypoint runs `arangosh` and `arango-init-database`.
- python:3.11-slim (base of our Dockerfile) — docker-library/python `3.11/slim-bookworm/Dockerfile`: Debian slim;
  `wget` is installed only to fetch the sources and purged again (`apt-get purge --auto-remove`), curl never; it
  links `python`, `pip`, `pydoc` to their `…3` names. Our Dockerfile adds the console scripts of `pip install -e .`.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

from compose_spec import ROOT, dockerfile_base, dockerfile_of, health_test, programs_called

SCRATCH_NATS = frozenset({"nats-server"})
BUSYBOX_USED_BY_NATS_BUILD = frozenset({"sh", "wget", "sha256sum", "tar", "mv", "rm"})

IMAGE_PROGRAMS: dict[str, frozenset[str]] = {
    "nats:2.10": SCRATCH_NATS,
    "nats:2.10-alpine": SCRATCH_NATS | BUSYBOX_USED_BY_NATS_BUILD | {"docker-entrypoint.sh"},
    "influxdb:2.7": frozenset({"bash", "sh", "curl", "gpg", "dasel", "gosu", "influxd", "influx"}),
    "arangodb:3.11": frozenset(
        {"sh", "wget", "tar", "ar", "pwgen", "numactl", "node", "arangod", "arangosh", "arangorestore"}
        | {"arango-init-database"}
    ),
    "python:3.11-slim": frozenset({"sh", "python", "python3", "pip", "pip3", "pydoc", "pydoc3"}),
}

_INSTALLS_PROJECT = re.compile(r"pip install (-e )?\.(\s|$)")


def project_scripts() -> set[str]:
    """The console scripts `pip install .` puts on PATH: the project's and those of its direct dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    scripts = set(project.get("scripts", {}))
    for requirement in project["dependencies"]:
        name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
        entry_points = metadata.distribution(name).entry_points
        scripts |= {ep.name for ep in entry_points if ep.group == "console_scripts"}
    return scripts


def image_programs(name: str, service: dict[str, Any], compose_dir: Path) -> tuple[str, frozenset[str]]:
    """The image a service runs (for a built one: its Dockerfile's base) and the programs it ships."""
    dockerfile = dockerfile_of(service, compose_dir)
    image = dockerfile_base(dockerfile) if dockerfile else service.get("image")
    if image not in IMAGE_PROGRAMS:
        raise LookupError(f"{name}: image {image!r} is not in image_programs.py; add it with the source of its tools")
    programs = IMAGE_PROGRAMS[image]
    if dockerfile and _INSTALLS_PROJECT.search(dockerfile.read_text()):
        programs = programs | project_scripts()
    return image, programs


def missing_programs(name: str, service: dict[str, Any], compose_dir: Path) -> tuple[str, list[str]]:
    """The service's image and each program its health check runs that the image does not ship."""
    test = health_test(service)
    if test is None:
        return str(service.get("image")), []
    image, shipped = image_programs(name, service, compose_dir)
    return image, [program for program in programs_called(test) if Path(program).name not in shipped]

"""Reading docker-compose.yml as Docker Compose does, for tests on machines where no Docker engine can run."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Shell operators that start another command inside a CMD-SHELL health check.
_SHELL_SEPARATORS = {"&&", "||", ";", "|", "&"}
# Commands that every POSIX shell runs itself, so they need no program in the image.
_SHELL_BUILTINS = {"exit", "test", "[", "true", "false", "echo", "printf", ":", "cd"}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def compose_path() -> Path:
    """The compose file under test: $TIRO_COMPOSE_FILE (to check another version of it), else the repository's."""
    return Path(os.environ.get("TIRO_COMPOSE_FILE") or ROOT / "docker-compose.yml")


def load_compose(path: Path | None = None) -> dict[str, Any]:
    """The compose file as a dict, YAML anchors and `<<` merge keys resolved (PyYAML does both)."""
    return yaml.safe_load((path or compose_path()).read_text())


def health_test(service: dict[str, Any]) -> list[str] | None:
    """The service's health check in exec form (`CMD` or `CMD-SHELL` first); None when it has none or it is off."""
    check = service.get("healthcheck")
    if not check or check.get("disable"):
        return None
    test = check.get("test")
    if isinstance(test, str):  # the string form runs in the image's shell
        return ["CMD-SHELL", test]
    if not test or test[0] == "NONE":
        return None
    return [str(part) for part in test]


def programs_called(test: list[str]) -> list[str]:
    """The programs a health check runs in the container: the CMD's, or the shell and each non-builtin command."""
    kind, args = test[0], test[1:]
    if kind == "CMD":
        return [args[0]]
    if kind != "CMD-SHELL":
        raise ValueError(f"unknown health check form {kind!r}")
    words = shlex.split(" ".join(args), posix=True)
    programs, at_start = ["sh"], True
    for word in words:
        if word in _SHELL_SEPARATORS:
            at_start = True
        elif at_start and "=" not in word:  # skip leading VAR=value assignments
            if word not in _SHELL_BUILTINS:
                programs.append(word)
            at_start = False
    return programs


def dockerfile_of(service: dict[str, Any], compose_dir: Path) -> Path | None:
    """The Dockerfile that `build` names, or None for a service that runs a published image."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return compose_dir / build / "Dockerfile"
    return compose_dir / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def dockerfile_base(dockerfile: Path) -> str:
    """The image the Dockerfile's last stage is built FROM."""
    bases = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.upper().startswith("FROM ")]
    if not bases:
        raise ValueError(f"{dockerfile}: no FROM line")
    return bases[-1]


def dockerfile_workdir(dockerfile: Path) -> str | None:
    """The last WORKDIR of a Dockerfile (where its commands run), or None."""
    dirs = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.upper().startswith("WORKDIR ")]
    return dirs[-1] if dirs else None


def dockerfile_env(dockerfile: Path) -> dict[str, str]:
    """The `ENV key=value` settings of a Dockerfile (continuation lines joined)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.upper().startswith("ENV "):
            for pair in shlex.split(line[4:]):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Each service this one waits for, with the condition (the short list form means `service_started`)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` substitution from `variables`."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        found = variables.get(name)
        if found:
            return found
        if operator and operator.endswith("?"):
            raise KeyError(f"{name}: {argument}")
        return argument if operator else ""

    return _INTERPOLATION.sub(substitute, value)

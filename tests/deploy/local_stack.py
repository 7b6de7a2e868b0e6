"""The services of docker-compose.yml as local processes on free loopback ports, started in its `depends_on` order.

Each service runs its compose `command` with the compose `environment` (and, for the image built from our
Dockerfile, that Dockerfile's ENV and WORKDIR). Addresses are rewired: `mock:8000` or the service's own
`localhost:8000` become `127.0.0.1:<free port>`; container paths (`/etc/...`, `/var/lib/...`) live under a temp root,
and `configs` are written to their targets there. `/app` is the repository (the image copies it there), except for a
service that mounts a config below `/app`: it gets a copy of the affected folder. A service with no local process
(a database) is replaced by environment overrides that point its clients at a sqlite store instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from compose_spec import (
    ROOT,
    compose_path,
    depends_on,
    dockerfile_env,
    dockerfile_of,
    dockerfile_workdir,
    health_test,
    interpolate,
    load_compose,
)
from image_programs import missing_programs
from process_groups import stop_group

from karez.embedded_nats import find_nats_server, free_port

BIN = Path(sys.executable).parent
_SELF = ("localhost", "127.0.0.1", "0.0.0.0")
_ADDRESS = re.compile(r"\b([A-Za-z0-9_.-]+):(\d{2,5})\b")
NATS_CLIENT_PORT = 4222  # nats-server's default client port, which the nats service's command leaves unchanged


class StackError(AssertionError):
    """A service did not start, died, or never met the condition that others wait for."""


class LocalStack:
    """Start, health-check and stop the compose services as processes; `stand_ins` maps a service to env overrides."""

    def __init__(
        self,
        root: Path,
        variables: dict[str, str],
        stand_ins: dict[str, dict[str, str]],
        extra_env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.compose_file = compose_path()
        compose = load_compose(self.compose_file)
        # as `docker compose up` without --profile: services of a profile (the NATS cluster) are not started
        self.services: dict[str, dict[str, Any]] = {
            name: service for name, service in compose["services"].items() if not service.get("profiles")
        }
        self.configs: dict[str, Any] = compose.get("configs") or {}
        self.root = root
        self.variables = variables
        self.stand_ins = stand_ins
        self.extra_env = extra_env or {}
        self.ports = {
            (name, port): free_port()
            for name, service in self.services.items()
            if name not in stand_ins
            for port in _container_ports(service)
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self._healthy: set[str] = set()

    # ----- addresses and paths -----
    def port(self, service: str, container_port: int) -> int:
        """The loopback port that stands for `service:container_port`."""
        return self.ports[(service, container_port)]

    def rewire(self, text: str, own: str) -> str:
        """`text` with every address of a started service (or of `own` as localhost) on its loopback port."""

        def local(match: re.Match) -> str:
            host, port = match.group(1), int(match.group(2))
            target = own if host in _SELF else host
            if (target, port) in self.ports:
                return f"127.0.0.1:{self.ports[(target, port)]}"
            return match.group(0)

        return _ADDRESS.sub(local, text)

    def container_path(self, service: str, path: str) -> Path:
        """Where a container path of `service` lives on this machine."""
        relative = Path(path).relative_to("/")
        if relative.parts[:1] == ("app",):
            return self._app_root(service).joinpath(*relative.parts[1:])
        return self.root / service / relative

    def _app_root(self, service: str) -> Path:
        mounted = [c["target"] for c in self.services[service].get("configs", []) if c["target"].startswith("/app/")]
        if not mounted:
            return ROOT
        app = self.root / service / "app"
        if not app.exists():
            app.mkdir(parents=True)
            copied = {Path(target).relative_to("/app").parts[0] for target in mounted}
            for entry in ROOT.iterdir():
                if entry.name in copied:
                    shutil.copytree(entry, app / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
                elif not entry.name.startswith("."):
                    (app / entry.name).symlink_to(entry)
        return app

    # ----- how a service runs -----
    def argv(self, name: str) -> list[str]:
        """The service's command as a local argv, with its listening options on loopback ports."""
        service = self.services[name]
        command = [self._local_value(name, str(part)) for part in service["command"]]
        if str(service.get("image", "")).startswith("nats:"):
            # the image's entrypoint puts nats-server before options; the client port stays the default
            argv = [find_nats_server(), *command, "-a", "127.0.0.1", "-p", str(self.port(name, NATS_CLIENT_PORT))]
        else:
            program = BIN / command[0]
            argv = [str(program) if program.exists() else command[0], *command[1:]]
        argv = _replace_option(argv, "--host", lambda _: "127.0.0.1")
        for option in ("--port", "--http_port"):
            argv = _replace_option(argv, option, lambda value, n=name: str(self.port(n, int(value))))
        return argv

    def _local_value(self, name: str, value: str) -> str:
        value = self.rewire(interpolate(value, self.variables), name)
        return str(self.container_path(name, value)) if value.startswith("/") and value != "/dev/null" else value

    def env(self, name: str) -> dict[str, str]:
        """The service's environment: this process's (no Prefect settings), its image's, compose's, the stand-ins'."""
        service = self.services[name]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        dockerfile = dockerfile_of(service, self.compose_file.parent)
        declared = {**(dockerfile_env(dockerfile) if dockerfile else {}), **(service.get("environment") or {})}
        env.update({key: self._local_value(name, str(value)) for key, value in declared.items()})
        for stand_in, overrides in self.stand_ins.items():
            for key, value in overrides.items():
                if key in env:
                    host = urlsplit(env[key].split("+", 1)[-1]).hostname
                    if host != stand_in:
                        raise StackError(f"{name}: {key} points at {host!r}, not at {stand_in!r} that it stands in for")
                    env[key] = value
        env.update(self.extra_env.get(name, {}))
        return env

    def cwd(self, name: str) -> Path:
        """The service's working directory: compose `working_dir`, else its image's WORKDIR, else the repository."""
        service = self.services[name]
        dockerfile = dockerfile_of(service, self.compose_file.parent)
        workdir = service.get("working_dir") or (dockerfile_workdir(dockerfile) if dockerfile else None)
        return self.container_path(name, workdir) if workdir else ROOT

    # ----- lifecycle -----
    def start(self, name: str) -> None:
        """Write the service's configs to their targets and start its command."""
        service = self.services[name]
        for mount in service.get("configs", []):
            target = self.container_path(name, mount["target"])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.rewire(self.configs[mount["source"]]["content"], name))
        cwd = self.cwd(name)
        cwd.mkdir(parents=True, exist_ok=True)
        for key, value in self.env(name).items():  # the image holds the directories its settings name
            if key.endswith(("_HOME", "_DIR")) and value.startswith(str(self.root)):
                Path(value).mkdir(parents=True, exist_ok=True)
        self.logs[name] = self.root / "logs" / f"{name}.log"
        self.logs[name].parent.mkdir(parents=True, exist_ok=True)
        with self.logs[name].open("wb") as log:
            self.processes[name] = subprocess.Popen(
                self.argv(name),
                env=self.env(name),
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def condition_met(self, name: str, condition: str) -> bool:
        """Whether `name` meets a `depends_on` condition now (a stand-in always does)."""
        if name in self.stand_ins:
            return True
        process = self.processes.get(name)
        if process is None:
            return False
        if condition == "service_started":
            return True
        if condition == "service_completed_successfully":
            return process.poll() == 0
        if condition != "service_healthy":
            raise StackError(f"unknown depends_on condition {condition!r}")
        if name not in self._healthy and self.run_health_check(name):
            self._healthy.add(name)
        return name in self._healthy

    def run_health_check(self, name: str) -> bool:
        """Run the service's compose health check here: a python check as is, a wget check as an HTTP GET.

        A check that calls a program its image does not ship (image_programs.py) fails, as it would in Docker.
        """
        test = health_test(self.services[name])
        if test is None or test[0] != "CMD":
            raise StackError(f"{name}: no CMD health check to run")
        if missing_programs(name, self.services[name], self.compose_file.parent)[1]:
            return False  # as in Docker: a check whose program the image lacks fails every time
        program, args = test[1], [self.rewire(arg, name) for arg in test[2:]]
        if program == "python":
            result = subprocess.run([sys.executable, *args], capture_output=True, timeout=20)
            return result.returncode == 0
        if program == "wget":
            url = next(arg for arg in args if arg.startswith("http"))
            try:
                return httpx.get(url, timeout=5).is_success
            except httpx.HTTPError:
                return False
        raise StackError(f"{name}: cannot run health check program {program!r} without its image")

    def start_all(self, timeout: float) -> list[str]:
        """Start every service once the conditions it depends on hold; the names in start order."""
        pending = [name for name in self.services if name not in self.stand_ins]
        order: list[str] = []
        deadline = time.monotonic() + timeout
        while pending:
            for name in list(pending):
                if all(self.condition_met(dep, cond) for dep, cond in depends_on(self.services[name]).items()):
                    self.start(name)
                    pending.remove(name)
                    order.append(name)
            self.check_running()
            if time.monotonic() > deadline:
                raise StackError(f"not started after {timeout}s: {pending}; {self.log_tails()}")
            time.sleep(0.2)  # polling child processes and their health checks
        return order

    def check_running(self) -> None:
        """Fail if a long-running service (restart policy other than "no") has exited."""
        for name, process in self.processes.items():
            one_shot = self.services[name].get("restart") == "no"
            if process.poll() is not None and not one_shot:
                raise StackError(f"{name} exited with {process.returncode}: {self.log_tail(name)}")

    def wait_exit(self, name: str, timeout: float) -> int:
        """Wait for a one-shot service to finish; its exit code."""
        try:
            return self.processes[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"{name} still running after {timeout}s: {self.log_tail(name)}") from exc

    def log_tail(self, name: str, chars: int = 2000) -> str:
        """The end of a service's output."""
        path = self.logs.get(name)
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def log_tails(self) -> str:
        """The end of every started service's output, for failure messages."""
        return "\n".join(f"--- {name}\n{self.log_tail(name, 800)}" for name in self.processes)

    def stop_all(self) -> None:
        """SIGTERM each service's process group, newest first; SIGKILL what is still there after 20 s."""
        for process in reversed(list(self.processes.values())):
            stop_group(process)

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def _container_ports(service: dict[str, Any]) -> list[int]:
    """The container side of each `ports` entry ("4222:4222", "8000")."""
    return [int(str(entry).rsplit(":", 1)[-1].split("/")[0]) for entry in service.get("ports", [])]


def _replace_option(argv: list[str], option: str, new_value) -> list[str]:
    """argv with the value after `option` replaced by new_value(old value)."""
    out = list(argv)
    for i, part in enumerate(out[:-1]):
        if part == option:
            out[i + 1] = new_value(out[i + 1])
    return out

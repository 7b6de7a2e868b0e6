"""The README's Prefect quickstart as a test runs it: its commands parsed from the README, run in order like a user.

Step 1's lines (the settings, "in every terminal") prefix every command, with the values of the variables the test
must move (ports, the store file) replaced; commands marked `# keeps running` start in the background, each in its own
process group, and the next step waits until they answer. Nothing else about the commands is changed.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from process_groups import stop_group

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "docs" / "how-to" / "prefect.md"  # the Prefect guide the README links to
SECTION = "## Quickstart: the pipeline under a Prefect server"
KEEPS_RUNNING = "# keeps running"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
_FENCE = re.compile(r"^\s*```bash\n(.*?)^\s*```", re.S | re.M)
_EXPORT = re.compile(r"^export (\w+)=(.*)$")


@dataclass(frozen=True)
class Command:
    """One line of a fenced block: the command as written, and whether it stays in the foreground."""

    text: str
    keeps_running: bool


def quickstart_blocks(readme: Path = README) -> list[list[Command]]:
    """The commands of each fenced bash block of the quickstart section, in order."""
    text = readme.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n#", start + len(SECTION))
    blocks = []
    for body in _FENCE.findall(text[start : end if end != -1 else None]):
        commands = []
        for raw in body.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keeps_running = KEEPS_RUNNING in line
            commands.append(Command(line.split(" #", 1)[0].strip() if keeps_running else line, keeps_running))
        blocks.append(commands)
    return blocks


def substitute(settings: list[Command], values: dict[str, str]) -> list[str]:
    """The settings lines with the values of the named exported variables replaced (each must be in the README)."""
    exported = {m.group(1) for c in settings if (m := _EXPORT.match(c.text))}
    missing = set(values) - exported
    assert not missing, f"the README's settings no longer export {sorted(missing)}"
    lines = []
    for command in settings:
        match = _EXPORT.match(command.text)
        if match and match.group(1) in values:
            lines.append(f"export {match.group(1)}={shlex.quote(values[match.group(1)])}")
        else:
            lines.append(command.text)
    return lines


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Terminals:
    """Runs commands after the settings lines, like a user's terminals; remembers what keeps running."""

    settings: list[str]
    env: dict[str, str]
    logs: Path
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_files: dict[str, Path] = field(default_factory=dict)

    def script(self, command: str) -> list[str]:
        """bash running the settings, then the command."""
        return ["bash", "-c", "set -e\n" + "\n".join(self.settings) + "\n" + command]

    def value(self, name: str) -> str:
        """A variable as the settings lines set it (expanded by bash, as a user's shell does)."""
        out = subprocess.run(
            self.script(f'printf %s "${name}"'), cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        return out.stdout

    def run(self, command: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run a command to its end; its output and exit code."""
        return subprocess.run(
            self.script(command), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def start(self, command: str) -> subprocess.Popen:
        """Start a command that keeps running, in its own process group, its output in a log file."""
        log = self.logs / f"{len(list(self.logs.iterdir()))}-{re.sub(r'[^a-z]+', '-', command)[:40]}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                self.script(f"exec {command}"),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[command] = process
        self.log_files[command] = log
        return process

    def log_of(self, command: str) -> str:
        """What a running command wrote so far."""
        return self.log_files[command].read_text(errors="replace")

    def stop_all(self) -> None:
        """Stop what keeps running, the last started first."""
        for process in reversed(list(self.running.values())):
            stop_group(process)


def wait_until(condition, timeout: float, what: str, poll: float = 0.5):
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(poll)  # polling processes and servers this test started
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def healthy(api: str) -> bool:
    """Whether the Prefect API answers its health check."""
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def api_call(method: str, url: str, **kwargs) -> httpx.Response:
    """A Prefect API request, retried while the server answers 503 (its SQLite file is briefly locked under load)."""
    for _ in range(40):
        try:
            response = httpx.request(method, url, timeout=10, **kwargs)
        except httpx.TransportError:
            time.sleep(0.5)  # the server is restarting
            continue
        if response.status_code != 503:
            return response
        time.sleep(0.5)
    raise AssertionError(f"{method} {url}: no answer")


def flow_runs(api: str, deployment: str | None = None) -> list[dict]:
    """Flow runs, newest first; only those of the named deployment when given."""
    rows = api_call("POST", f"{api}/flow_runs/filter", json={"sort": "EXPECTED_START_TIME_DESC"}).json()
    if deployment is None:
        return rows
    ids = {d["id"] for d in api_call("POST", f"{api}/deployments/filter", json={}).json() if d["name"] == deployment}
    return [r for r in rows if r["deployment_id"] in ids]


def running_run(api: str, deployment: str, besides: set[str] = frozenset()) -> dict | None:
    """The RUNNING run of a deployment, other than the ones in `besides`."""
    for run in flow_runs(api, deployment):
        if run["state"]["type"] == "RUNNING" and run["id"] not in besides:
            return run
    return None


def run_pid(run: dict) -> int | None:
    """The process id of a flow run on a process worker (`infrastructure_pid` is `host:pid` or `pid`)."""
    pid = run.get("infrastructure_pid")
    return int(str(pid).rsplit(":", 1)[-1]) if pid else None


def _set_state(api: str, run: dict, state: str) -> None:
    api_call("POST", f"{api}/flow_runs/{run['id']}/set_state", json={"state": {"type": state}, "force": True})


def end_every_run(api: str, timeout: float = 90) -> None:
    """Pause the schedules and end every run: a running one is cancelled (a service drains), one not started yet is
    cancelled outright; any run process that outlives the wait is killed."""
    for deployment in api_call("POST", f"{api}/deployments/filter", json={}).json():
        api_call("PATCH", f"{api}/deployments/{deployment['id']}", json={"paused": True})
    pids: set[int] = set()

    def ended() -> bool:
        runs = flow_runs(api)
        for run in runs:
            pid = run_pid(run)
            if pid is not None:
                pids.add(pid)
            state = run["state"]["type"]
            if state == "RUNNING":
                _set_state(api, run, "CANCELLING")
            elif state in ("SCHEDULED", "PENDING", "PAUSED") or (
                state == "CANCELLING" and pid is not None and not is_flow_run_process(pid)
            ):
                _set_state(api, run, "CANCELLED")  # never started, or its process is gone
        return all(r["state"]["type"] in TERMINAL for r in runs)

    try:
        wait_until(ended, timeout, "the flow runs to end", poll=1)
    finally:
        kill_run_processes(pids)


def is_flow_run_process(pid: int) -> bool:
    """Whether `pid` is (still) a flow-run process of Prefect, not another process that got its id."""
    try:
        return b"prefect" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def kill_run_processes(pids: set[int]) -> None:
    """SIGKILL the process groups of flow runs that are still there (a worker starts each run in a group of its own)."""
    for pid in pids:
        if is_flow_run_process(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

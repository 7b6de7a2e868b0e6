"""`tiro mock serve` on an address it cannot listen on: one line naming it, exit 2, before it claims to serve."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIRO = str(Path(sys.executable).parent / "tiro")
DATAHALL = ROOT / "scenarios" / "datahall"


def test_a_port_in_use_is_one_line_naming_it_and_exit_2():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [TIRO, "mock", "serve", "scenario.yaml", "use-srv1.yaml", "use-srv2.yaml", "-p", str(port)],
            cwd=DATAHALL, capture_output=True, text=True, timeout=60, env={"COLUMNS": "40", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another mock server? stop it, or serve on another port with -p)"
    ]
    assert "Serving" not in proc.stderr and "Traceback" not in proc.stderr

"""Stopping a test's helper processes: each runs in its own process group, so its children stop with it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_group(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group of `process`; SIGKILL it when it is still there after `grace` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):  # the group may have ended by itself meanwhile
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

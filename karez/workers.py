"""`karez deploy --workers N`: N processes run the same roles, splitting the work through the NATS queue groups.

One Python process uses one core; subscribers with the same name share a queue group (durable ones a pull
consumer), so extra processes with the same configuration take their share of every subject. Dispatchers are timers,
not subscribers: they run in the first process only, or every round would be dispatched N times.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable


def worker_kinds(kinds: tuple[str, ...], index: int) -> tuple[str, ...]:
    """Role kinds run by worker `index`: all selected kinds in worker 0, no dispatchers in the others."""
    return kinds if index == 0 else tuple(k for k in kinds if k != "dispatcher")


def stop_with_parent(parent: int) -> None:
    """Ask Linux to SIGTERM this process when its parent dies (a SIGKILLed first process must not leave workers)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers then outlive a killed first process
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def fork_workers(count: int, run: Callable[[int], int]) -> list[int]:
    """Fork `count - 1` children running `run(index)` (index 1..count-1); returns their pids.

    Call it before any event loop or thread exists: fork copies only the calling thread."""
    pids = []
    parent = os.getpid()
    for index in range(1, count):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child never returns into the caller's code
            code = 1
            # its own process group: a terminal's Ctrl-C reaches the first process only, which passes it on once
            os.setpgid(0, 0)
            stop_with_parent(parent)
            try:
                code = run(index)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:  # keep the traceback visible: os._exit below skips the interpreter's report
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        pids.append(pid)
    return pids


def signal_workers(pids: list[int], sig: int = signal.SIGTERM) -> None:
    """Pass a stop signal on to the children (a supervisor may signal only the first process)."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_workers(pids: list[int]) -> int:
    """Wait for every child; the first non-zero exit code, else 0."""
    worst = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code and not worst:
            worst = code
    return worst

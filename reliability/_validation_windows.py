"""Run the `validate-window` Prefect flow for consecutive windows against a NATS cluster; one JSON line per window.

A child process of the cluster validation case (Prefect's ephemeral API in a temporary home, as the tests use), so
the flow that a deployment schedules is the one measured: it reads each window back from the retention stream.

    python reliability/_validation_windows.py --nats URLS --scenario S --uses U [--uses U2] --first EPOCH \
        --window 5 --count 12
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="tiro-reliability-prefect-")
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_ENABLED", "true")
os.environ.setdefault("PREFECT_SERVER_DATABASE_CONNECTION_URL", "sqlite+aiosqlite:///:memory:")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")


async def main(args: argparse.Namespace) -> None:
    """Validate each window once its end (+ the allowed lateness) has passed; print its figures."""
    from tiro_prefect.flows.validation import validate_window, window_report

    for k in range(args.count):
        start = args.first + k * args.window
        end = start + args.window
        began = time.monotonic()
        try:
            state = await validate_window(
                args.scenario, args.uses, window=args.window, nats_url=args.nats, retention=600,
                start=datetime.fromtimestamp(start, UTC), end=datetime.fromtimestamp(end, UTC),
                fail_on_invalid=False, allowed_lateness=args.lateness, return_state=True,
            )  # fmt: skip
            report = await window_report(state)
            line = {"window": k, "start": start, "items": report["items"], "messages": report["messages"],
                    "empty": report["empty"], "late": report["late"], "valid": report["valid"]}  # fmt: skip
        except Exception as e:  # a window that cannot be validated is a finding, and the next ones still run
            line = {"window": k, "start": start, "error": f"{type(e).__name__}: {e}"[:300]}
        line["seconds"] = round(time.monotonic() - began, 2)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--nats", required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--uses", action="append", required=True)
    parser.add_argument("--first", type=float, required=True, help="epoch seconds of the first window's start")
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--lateness", type=float, default=1.0)
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)

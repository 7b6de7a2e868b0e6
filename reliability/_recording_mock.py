"""The mock server of `tiro mock serve`, in its own process, recording every point it serves to a log file.

The reliability cases need the exact set of samples the mock handed out (data-point path + timestamp) to count what
reached the stores. This runs the same service and ASGI app as `tiro mock serve` and appends one JSON line per
`POST /points/batch` answer (`{"t": epoch, "points": [[path, iso timestamp], ...]}`) before the answer is sent.

    python reliability/_recording_mock.py SCENARIO USES... --port P --seed 1 --log served.jsonl
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from tiro.mock.app import create_asgi
from tiro.mock.service import MockService, build_service


def record_batches(service: MockService, log: Path) -> None:
    """Make `service.batch` append what it serves to `log` (unbuffered, so a killed process loses no line)."""
    out = open(log, "ab", buffering=0)  # noqa: SIM115 (open for the process's lifetime)
    serve = service.batch

    def batch(paths: list[str]) -> tuple[dict[str, Any], list[str]]:
        points, unknown = serve(paths)
        served = [[path, dp["timestamp"]] for path, dp in points.items()]
        out.write(orjson.dumps({"t": time.time(), "points": served}) + b"\n")
        return points, unknown

    columns_of = service.batch_columns

    def batch_columns(paths: list[str]) -> dict[str, Any]:
        answer = columns_of(paths)
        if service.faults is not None:  # the column answer was made by `batch`, which recorded it
            return answer
        served = [[p, ts] for p, ts in zip(answer["columns"]["path"], answer["columns"]["timestamp"], strict=True)]
        served += [[p, dp["timestamp"]] for p, dp in answer["other"].items()]
        out.write(orjson.dumps({"t": time.time(), "points": served}) + b"\n")
        return answer

    service.batch = batch  # type: ignore[method-assign]
    service.batch_columns = batch_columns  # type: ignore[method-assign]


def main() -> None:
    """Serve the scenario on 127.0.0.1:PORT and record what is served."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("uses", type=Path, nargs="+")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    service = build_service(args.scenario, args.uses, seed=args.seed)
    record_batches(service, args.log)
    uvicorn.run(create_asgi(service), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

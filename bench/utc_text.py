"""Benchmark: the numpy timestamp kernels (`tiro_models.utc_text`) against the `datetime` paths they stand in for.

Prints one JSON object. The input is what the pipeline carries: columns of a task batch's size, each point stamped at
its own moment within the poll interval (`_realistic.POLL_INTERVAL_S`), as the mock draws them, so no two stamps of
a column are alike. Measured in the same run, best of `--rounds`, CPU time per stamp (and the rate) for:
- `texts`: epoch seconds to ISO text (the mock's timestamp column): `iso_texts` vs the Python kernel it had before,
  `iso_utc_by_second` (the text up to the second once per distinct second, the microseconds formatted per moment);
- `seconds`: ISO text to epoch seconds (`tiro_preprocess` and `tiro_validate`): `iso_seconds` vs `fromisoformat` and
  `timestamp` mapped over the column;
- `long_column`: both at 10,000 stamps a column (CPU time counts every thread: a matrix product there went to BLAS,
  whose threads spin on every core);
- `crossover`: both at short columns, which is where the thresholds of `tiro_models.utc_columns` come from.

    .venv/bin/python bench/utc_text.py [--column 2000] [--columns 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _realistic import POLL_INTERVAL_S

from tiro_models.mock import iso_utc_by_second as python_texts
from tiro_models.utc_text import iso_seconds, iso_texts

CROSSOVER_LENGTHS = (16, 32, 64, 128, 256, 512, 1024)
LONG_COLUMN = 10_000  # a task batch of 10,000 points: numpy must not call on BLAS, whose threads spin on every core


def python_seconds(stamps: list[str]) -> list[float]:
    """Reading before numpy: `fromisoformat` then `timestamp`, mapped over the column."""
    return list(map(datetime.timestamp, map(datetime.fromisoformat, stamps)))


def columns_of(length: int, count: int, seed: int) -> list[list[float]]:
    """`count` columns of `length` moments, each drawn within the poll interval before a moment of its own."""
    draw = random.Random(seed)
    start = 1_796_000_000.0
    return [
        [start + c * POLL_INTERVAL_S - draw.random() * POLL_INTERVAL_S for _ in range(length)] for c in range(count)
    ]


def best_cpu_us(fn: Callable[[Any], Any], columns: list[Any], rounds: int) -> float:
    """The best round's CPU µs per item of `fn` over every column."""
    items = sum(map(len, columns))
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for column in columns:
            fn(column)
        best = min(best, time.process_time() - start)
    return best * 1e6 / items


def compare(numpy_fn: Callable, python_fn: Callable, columns: list[Any], rounds: int) -> dict[str, Any]:
    """Both kernels' CPU µs per stamp and rate, after checking that they agree on every column."""
    for column in columns:
        if numpy_fn(column) != python_fn(column):
            raise SystemExit("the kernels disagree: the benchmark would compare different work")
    numpy_us, python_us = best_cpu_us(numpy_fn, columns, rounds), best_cpu_us(python_fn, columns, rounds)
    return {
        "numpy_cpu_us_per_stamp": round(numpy_us, 4),
        "python_cpu_us_per_stamp": round(python_us, 4),
        "numpy_stamps_per_s": round(1e6 / numpy_us),
        "python_stamps_per_s": round(1e6 / python_us),
        "speedup": round(python_us / numpy_us, 2),
    }


def main() -> None:
    """Run and print the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--column", type=int, default=2000, help="stamps per column (the pipeline's task batch)")
    ap.add_argument("--columns", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    moments = columns_of(args.column, args.columns, seed=1)
    stamps = [python_texts(column) for column in moments]
    distinct = len({s for column in stamps for s in column})
    crossover = {}
    for length in CROSSOVER_LENGTHS:
        short = columns_of(length, max(20, 20_000 // length), seed=length)
        short_stamps = [python_texts(column) for column in short]
        crossover[str(length)] = {
            "texts": compare(iso_texts, python_texts, short, args.rounds),
            "seconds": compare(iso_seconds, python_seconds, short_stamps, args.rounds),
        }
    long = columns_of(LONG_COLUMN, 5, seed=2)
    long_stamps = [python_texts(column) for column in long]
    result = {
        "benchmark": "utc_text",
        "python": platform.python_version(),
        "input": {"column": args.column, "columns": args.columns, "stamps": args.column * args.columns},
        "input_variety": {"distinct_stamps": distinct, "poll_interval_s": POLL_INTERVAL_S},
        "texts": compare(iso_texts, python_texts, moments, args.rounds),
        "seconds": compare(iso_seconds, python_seconds, stamps, args.rounds),
        "long_column": {
            "stamps": LONG_COLUMN,
            "texts": compare(iso_texts, python_texts, long, args.rounds),
            "seconds": compare(iso_seconds, python_seconds, long_stamps, args.rounds),
        },
        "crossover": crossover,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

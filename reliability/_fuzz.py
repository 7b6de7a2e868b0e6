"""Runs the tests/fuzz suite in a pytest subprocess and collects cases tried per boundary and failures."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TALLY = re.compile(r"^\[fuzz\] (?P<boundary>[^:]+): (?P<cases>\d+) cases")


def run_fuzz(timeout: float = 900) -> dict[str, Any]:
    """`pytest tests/fuzz -s`: generated cases per boundary (the tally lines) and failed tests (JUnit XML)."""
    with tempfile.TemporaryDirectory(prefix="tiro-reliability-fuzz-") as tmp:
        junit = Path(tmp) / "fuzz.xml"
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/fuzz", "-s", "-q", "-p", "no:cacheprovider",
             f"--junitxml={junit}"],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        seconds = time.monotonic() - began
        per_boundary: dict[str, int] = {}
        for line in proc.stdout.splitlines():
            m = TALLY.match(line.strip())
            if m:
                per_boundary[m["boundary"]] = per_boundary.get(m["boundary"], 0) + int(m["cases"])
        tests = failures = 0
        failed: list[str] = []
        if junit.exists():
            for case in ET.parse(junit).getroot().iter("testcase"):
                tests += 1
                if case.find("failure") is not None or case.find("error") is not None:
                    failures += 1
                    failed.append(f"{case.get('classname')}::{case.get('name')}")
    return {
        "cases": sum(per_boundary.values()),
        "failures": failures,
        "tests": tests,
        "per_boundary": per_boundary,
        "failed_tests": failed,
        "pytest_exit_code": proc.returncode,
        "seconds": round(seconds, 1),
    }

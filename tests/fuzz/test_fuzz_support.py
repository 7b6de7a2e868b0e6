"""The tally line of a fuzz test says how the test ended: failures and errors from pytest's outcome, never a claim."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from fuzz_support import Outcome, Tally

HERE = Path(__file__).resolve().parent

FUZZ_TESTS = """
import pytest
from fuzz_support import FUZZ
from hypothesis import given, strategies as st


@FUZZ
@given(x=st.integers())
def test_one_bug(x, tally):
    tally.count("ok" if x < 10 else "big")
    assert x < 10, "too big"


@FUZZ
@given(x=st.integers())
def test_two_bugs(x, tally):
    tally.count("ok")
    if x > 10:
        raise ValueError("high")
    if x < -10:
        raise KeyError("low")


def test_fine(tally):
    tally.count("ok")


@pytest.fixture
def server():
    raise RuntimeError("no server")


def test_fixture_error(tally, server):
    tally.count("ok")
"""


def tally_lines(tmp_path: Path) -> dict[str, str]:
    """Run the fabricated fuzz tests with this folder's conftest; the tally line of each test by boundary."""
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_fabricated.py").write_text(FUZZ_TESTS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "-s", "-q", "-p", "no:cacheprovider", "--rootdir", tmp_path],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("[fuzz] ")]
    return {line.split(":", 1)[0].removeprefix("[fuzz] "): line for line in lines}


def test_tally_lines_report_what_pytest_saw(tmp_path):
    lines = tally_lines(tmp_path)
    assert "0 crashes" not in "".join(lines.values())
    assert lines["fine"] == "[fuzz] fine: 1 cases (ok=1); test passed (failures=0, errors=0)"
    assert "; test FAILED (failures=1, errors=0): AssertionError: too big" in lines["one_bug"]
    assert "; test FAILED (failures=2, errors=0): " in lines["two_bugs"]
    assert lines["fixture_error"] == (
        "[fuzz] fixture_error: 0 cases (); test FAILED (failures=0, errors=1): RuntimeError: no server"
    )


def test_a_passed_test_says_so_and_a_failed_one_never_claims_zero_crashes():
    tally = Tally("boundary")
    tally.count("ok")
    assert tally.line(Outcome()) == "[fuzz] boundary: 1 cases (ok=1); test passed (failures=0, errors=0)"
    failed = tally.line(Outcome(failures=1, first_problem="AssertionError: x"))
    assert failed.endswith("; test FAILED (failures=1, errors=0): AssertionError: x")

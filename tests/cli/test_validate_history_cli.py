"""`tiro validate history` as a user runs it: the last windows, a completeness sparkline, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tiro.stores.window_results import WindowResult, open_window_results

TIRO = str(Path(sys.executable).with_name("tiro"))
T0 = 1_796_466_622.0  # 2026-12-05 10:30:22 UTC


def _history(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TIRO, "validate", "history", *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def _keep(url: str, completeness: list[float]) -> None:
    store = open_window_results(url)
    for i, share in enumerate(completeness):
        missing = round(10 * (1 - share))
        store.write(WindowResult(T0 + 30 * i, T0 + 30 * (i + 1), share == 1.0, share, 10, 10 - missing, missing))
    store.close()


def test_lists_the_last_windows_with_bars_and_a_sparkline(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    _keep(url, [1.0, 0.5, 1.0, 0.0, 0.9])
    result = _history("--store", url, "--last", "4")
    assert result.returncode == 1, result.stderr  # the latest window is invalid
    lines = result.stdout.splitlines()
    assert lines[0].startswith("window") and len(lines) == 6
    assert lines[1].startswith("2026-12-05 10:30:52–10:31:22 UTC  INVALID  █████░░░░░  50.0%")
    assert "INVALID  █████████░  90.0%" in lines[4]
    assert lines[5] == "completeness ▅█▁▇  4 window(s), 3 invalid, latest INVALID"


def test_json_and_a_valid_latest_window_exit_0(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    _keep(url, [0.2, 1.0])
    result = _history("--json", env={"TIRO_TELEMETRY_URL": url, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    windows = json.loads(result.stdout)
    assert [w["completeness"] for w in windows] == [0.2, 1.0] and windows[1]["valid"] is True


def test_empty_store_and_missing_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'tiro.db'}"
    open_window_results(url).close()
    empty = _history("--store", url)
    assert (empty.returncode, empty.stdout.strip()) == (0, f"no validation windows kept in {url}")
    missing = _history("--store", f"sqlite:///{tmp_path / 'nope.db'}")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "nope.db" in missing.stderr and "Traceback" not in missing.stderr
    for bad, needle in ((("--last", "0"), "--last"), (("--source", "x"), "--source")):
        refused = _history("--store", url, *bad)
        assert (refused.returncode, refused.stdout, refused.stderr.count("\n")) == (
            2,
            "",
            1,
        ) and needle in refused.stderr


def test_validate_test_names_the_offending_value_and_the_allowed_range(tmp_path) -> None:
    from tiro.examples import example_dir

    datahall = example_dir("datahall")
    files = [datahall / "scenario.yaml", datahall / "use-srv1.yaml", datahall / "use-srv2.yaml"]
    snapshot = tmp_path / "snapshot.json"
    made = subprocess.run([TIRO, "schema", "example", *files[:2], "-o", snapshot], capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    data = json.loads(snapshot.read_text())
    data["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]["ActivePower"]["value"] = 10**9
    snapshot.write_text(json.dumps(data))
    bad = subprocess.run([TIRO, "validate", "test", *files[:2], snapshot], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    line = next(x for x in bad.stdout.splitlines() if "ActivePower" in x)
    assert line.endswith("; value 1000000000, allowed float in [0, 1000] W"), line

"""Every command's exit-code contract for every kind of bad input, run as a user runs it: the console scripts with
output piped, no terminal width (as in CI and `docker compose logs`) or a narrow one.

Contract: 0 ok; 1 invalid data or lint findings; 2 bad input or an unreachable service, as ONE unwrapped line on stderr
naming the file (and line) or the address, with no traceback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tiro.examples import example_dir, example_files

BIN = Path(sys.executable).parent
SCENARIO, USES = example_files(example_dir("datahall"))
USE = USES[0]
KAREZ_CONFIG = example_dir("datahall") / "config" / "karez.yaml"
STUBS = example_dir("datahall") / "karez"  # the example's plugin directory


def _env(columns: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    return env


def run(*args: object, columns: str | None = None, cwd: Path | None = None, timeout: float = 60):
    """Run `tiro ...` or `karez ...` with stdout and stderr piped (never a terminal)."""
    command = [str(BIN / str(args[0])), *map(str, args[1:])]
    return subprocess.run(
        command, capture_output=True, text=True, env=_env(columns), cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL
    )


def assert_one_line_error(result, *needles: str, code: int = 2) -> str:
    """Exit `code`, nothing on stdout, exactly one line on stderr containing every needle, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    """One file (or folder) of each bad-input kind."""
    folder = tmp_path_factory.mktemp("bad-input")
    files = {
        "missing": folder / "missing.yaml",
        "directory": folder / "a-folder",
        "malformed_yaml": folder / "malformed.yaml",
        "not_utf8": folder / "latin1.yaml",
        "yaml_list": folder / "list.yaml",
        "malformed_json": folder / "malformed.json",
        "json_list": folder / "list.json",
        "not_utf8_json": folder / "latin1.json",
    }
    files["directory"].mkdir()
    files["malformed_yaml"].write_text("A:\n  - [\n")
    files["not_utf8"].write_bytes(b"A:\n  name: caf\xe9\n")
    files["yaml_list"].write_text("- a\n- b\n")
    files["malformed_json"].write_text('{"a":\n  [1, 2,\n')
    files["json_list"].write_text("[1, 2]\n")
    files["not_utf8_json"].write_bytes(b'{"a": "caf\xe9"}')
    return files


YAML_KINDS = ["missing", "directory", "malformed_yaml", "not_utf8", "yaml_list"]
# The line each kind's error names, where it has one.
YAML_LINE = {"malformed_yaml": ":3:", "yaml_list": ":1:"}


@pytest.mark.parametrize("kind", YAML_KINDS)
@pytest.mark.parametrize(
    "command",
    [("tiro", "schema", "show"), ("tiro", "schema", "example"), ("tiro", "check"), ("tiro", "validate", "test")],
    ids=" ".join,
)
def test_tiro_scenario_inputs(bad, kind, command):
    extra = [SCENARIO] if command[-1] == "test" else []  # validate test: the snapshot comes last
    result = run(*command, bad[kind], USE, *extra)
    if command == ("tiro", "check") and kind == "yaml_list":  # readable YAML of the wrong shape: a lint finding
        assert result.returncode == 1 and f"{bad[kind]}:1: error: a scenario must be a mapping" in result.stdout
        return
    assert_one_line_error(result, bad[kind].name, YAML_LINE.get(kind, ""))


@pytest.mark.parametrize("kind", ["missing", "directory", "malformed_yaml", "not_utf8"])
@pytest.mark.parametrize("command", [("tiro", "schema", "show"), ("tiro", "check")], ids=" ".join)
def test_tiro_uses_inputs(bad, kind, command):
    result = run(*command, SCENARIO, bad[kind])
    assert_one_line_error(result, bad[kind].name, YAML_LINE.get(kind, ""))


@pytest.mark.parametrize(
    ("kind", "needle"),
    [("missing", ""), ("directory", ""), ("malformed_json", "not valid JSON"), ("json_list", "must be a JSON object"),
     ("not_utf8_json", "")],
)  # fmt: skip
def test_tiro_validate_test_snapshot_inputs(bad, kind, needle):
    result = run("tiro", "validate", "test", SCENARIO, USE, bad[kind])
    assert_one_line_error(result, bad[kind].name, needle)


def test_tiro_lint_findings_and_invalid_data_exit_1(tmp_path):
    uses = tmp_path / "uses.yaml"
    uses.write_text("- Nowhere\n")
    assert run("tiro", "check", SCENARIO, uses).returncode == 1
    snapshot = tmp_path / "snap.json"
    snapshot.write_text("{}")
    assert run("tiro", "validate", "test", SCENARIO, USE, snapshot).returncode == 1


def test_tiro_unreachable_services_are_one_line(tmp_path):
    port = _closed_port()
    result = run("tiro", "mock", "push", "-d", f"127.0.0.1:{port}", "--rounds", "1", "--retries", "1")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: cannot reach the data server at http://127.0.0.1:{port}: no round could list its points"
    )
    influx = run("tiro", "query", "latest", "%", "--store", f"http://127.0.0.1:{port}")
    assert_one_line_error(influx, f"cannot reach InfluxDB at http://127.0.0.1:{port}")
    assert_one_line_error(run("tiro", "query", "latest", "%", "--store", "bogus://x"), "'bogus://x'")
    sqlite = run("tiro", "query", "latest", "%", "--store", f"sqlite:///{tmp_path}/absent.db")
    assert_one_line_error(sqlite, f"{tmp_path}/absent.db: no such sqlite database")
    window = run(
        "tiro", "validate", "window", "--scenario", SCENARIO, "--uses", USE, "--nats", f"nats://127.0.0.1:{port}"
    )
    assert_one_line_error(window, f"nats://127.0.0.1:{port}")


@pytest.mark.parametrize("kind", YAML_KINDS)
def test_karez_config_inputs(bad, kind):
    result = run("karez", "test", "-c", bad[kind], "-v", "x")
    assert_one_line_error(result, bad[kind].name)


@pytest.mark.parametrize(
    ("kind", "needle"),
    [("missing", "file not found"), ("directory", "cannot read"), ("malformed_json", ":3:1: invalid JSON"),
     ("not_utf8_json", "not UTF-8")],
)  # fmt: skip
def test_karez_test_input_file(bad, kind, needle):
    result = run("karez", "test", "-c", KAREZ_CONFIG, "-v", "tiro_preprocess", "-i", bad[kind])
    assert_one_line_error(result, bad[kind].name, needle)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["test", "-d", "nope"], ["no dispatcher named 'nope'", "(dispatchers: 'tiro_mock')"]),
        (["test", "-n", "nope"], ["no connector named 'nope'", "(connectors: 'tiro_mock')"]),
        (["test", "-v", "nope"], ["no converter named 'nope'", "'tiro_preprocess'"]),
        (["test", "-d", "tiro_mock", "-p", "no-such-dir"], ["no-such-dir: plugin directory not found"]),
    ],
    ids=["dispatcher", "connector", "converter", "plugin-dir"],
)
def test_karez_test_unknown_names(args, needles):
    result = run("karez", *args, "-c", KAREZ_CONFIG, cwd=example_dir("datahall"))
    assert_one_line_error(result, *needles)


def test_karez_plugin_doc_unknown_type_and_kind():
    assert_one_line_error(run("karez", "plugin-doc", "aggregator", "nope"), "called nope (known: ", "echo")
    assert_one_line_error(run("karez", "plugin-doc", "gadget", "x"), "unknown kind 'gadget'")


def test_karez_test_against_a_server_that_is_not_up(tmp_path):
    port = _closed_port()
    config = tmp_path / "karez.yaml"
    config.write_text(KAREZ_CONFIG.read_text().replace("http://localhost:8000", f"http://127.0.0.1:{port}"))
    args = ["test", "-c", config, "-p", STUBS, "-d", "tiro_mock", "-n", "tiro_mock"]
    assert_one_line_error(run("karez", *args), f"cannot reach http://127.0.0.1:{port}/")
    debug = run("karez", "--debug", *args)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "ConnectError" in debug.stderr


def test_karez_deploy_connect_timeout_names_the_address():
    port = _closed_port()
    result = run(
        "karez", "deploy", "-c", KAREZ_CONFIG, "-p", STUBS, "-a", f"nats://127.0.0.1:{port}", "--connect-timeout", "1",
        cwd=example_dir("datahall"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == f"cannot connect to NATS at nats://127.0.0.1:{port} within 1 s"


@pytest.mark.parametrize("program", ["tiro", "karez"])
def test_version(program):
    result = run(program, "--version")
    assert result.returncode == 0 and result.stdout.startswith(f"{program} ") and result.stdout.count("\n") == 1


@pytest.mark.parametrize("columns", [None, "40"], ids=["no-terminal", "narrow"])
def test_nothing_is_wrapped_or_truncated(bad, columns):
    """Errors, usage errors, help and listings keep every line whole, whatever COLUMNS says."""
    error = run("karez", "test", "-c", bad["malformed_yaml"], "-v", "x", columns=columns)
    line = assert_one_line_error(error, "malformed.yaml:3:", "invalid YAML")
    assert len(line) > 40

    help_text = run("karez", "deploy", "--help", columns=columns).stdout
    assert "…" not in help_text
    for option in ("--plugin-directory", "--connection-per-role", "KAREZ_NATS_PASSWORD", "--connect-timeout"):
        assert option in help_text, option
    assert "Processes running these roles (queue groups split the work; one dispatches)." in help_text

    usage = run("karez", "deploy", "--no-such-option", columns=columns)
    assert usage.returncode == 2 and "Error: No such option: --no-such-option" in usage.stderr.splitlines()

    listing = run("karez", "plugins", columns=columns, cwd=example_dir("datahall")).stdout.splitlines()
    assert any(line.startswith("   influx_line_protocol: ") and len(line) > 40 for line in listing), listing

    snapshot = run("tiro", "schema", "example", SCENARIO, USE, "--seed", "1", columns=columns)
    assert snapshot.returncode == 0 and json.loads(snapshot.stdout)

    missing = run("tiro", "check", bad["missing"], USE, columns=columns)
    assert_one_line_error(missing, f"{bad['missing']}: file not found")

"""Fuzz Karez configuration: load_settings + validate_config (+ build_roles) give a ConfigError or a report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fuzz_support import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from karez.config_check import validate_config
from karez.plugins import all_plugins
from karez.runtime import build_roles
from karez.settings import ConfigError, load_settings
from tiro.examples import example_dir

EXAMPLE = example_dir("datahall")
CONFIG = (EXAMPLE / "config" / "karez.yaml").read_text()
PLUGINS = all_plugins(EXAMPLE / "karez")

WORDS = [
    "dispatchers", "connectors", "converters", "aggregators", "type", "name", "connector", "converter", "next",
    "category", "tiro_mock", "tiro_preprocess", "influx_line_protocol", "filter_and_update_meta", "echo", "default",
    "tiro_validate", "tiro_store", "durable", "batch", "mode", "burst", "interval", "batch_size", "by", "path",
    "retention", "base_url", "dlq", "metrics", "a.b", "*", ">", "", " ", "@int x", "@float nan", "@json {",
    "@bool yes", "@format {env[NOPE]}", "@format {env[KAREZ_SECRET]}", "@json [1, 2]", "@unknown", "-1", "1e400",
]  # fmt: skip
PUNCT = [":", "- ", "  ", "\n", "{", "}", "[", "]", ",", "#", "&x", "*x", "!!binary", "\t", "? "]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.floats(), st.sampled_from(WORDS), st.text(max_size=10)
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), inner)
    ),
    max_leaves=30,
)


@st.composite
def mutated_config(draw: st.DrawFn) -> str:
    """The walkthrough config with a few lines dropped, duplicated, re-indented or given another value."""
    lines = CONFIG.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "indent", "value", "splice"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "value" and ":" in lines[i]:
            lines[i] = lines[i].split(":", 1)[0] + ": " + yaml.safe_dump(draw(scalars)).splitlines()[0]
        else:
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(WORDS + PUNCT)) + lines[i][at:]
    return "\n".join(lines) + "\n"


config_texts = st.one_of(
    mutated_config(),
    documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.lists(st.sampled_from(WORDS + PUNCT), max_size=40).map("".join),
    st.text(max_size=120),
)
environments = st.dictionaries(
    st.sampled_from(["KAREZ_CONVERTERS", "KAREZ_AGGREGATORS", "KAREZ_DISPATCHERS", "KAREZ_X", "KAREZ_SECRET"]),
    st.one_of(st.sampled_from(WORDS), st.text(max_size=20), documents.map(lambda d: yaml.safe_dump(d))),
    max_size=2,
)


def _check(path: Path, tally, environ: dict[str, str]) -> None:
    try:
        settings = load_settings([str(path)], environ=environ)
    except ConfigError as e:
        assert str(e).strip() and "Traceback" not in str(e)
        tally.count("ConfigError")
        return
    report = validate_config(settings, PLUGINS)
    assert all(isinstance(m, str) and m for m in report.errors + report.warnings)
    if not report.ok:
        tally.count("invalid report")
        return
    try:
        build_roles(settings, PLUGINS)
    except ConfigError as e:
        assert str(e).strip()
        tally.count("ConfigError at build")
        return
    tally.count("valid")


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example folder's scenario files next to the fuzzed config (the validator aggregator reads them)."""
    return tmp_path_factory.mktemp("karez-fuzz")


def test_karez_config(config_dir: Path, tally, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLE)  # relative scenario paths of the walkthrough config resolve here
    path = config_dir / "karez.yaml"

    @FUZZ
    @given(text=config_texts, environ=environments)
    def case(text: str, environ: dict[str, str]) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _check(path, tally, environ)

    case()
    tally.boundary = "Karez config"


def test_karez_config_bytes(config_dir: Path, tally) -> None:
    path = config_dir / "karez.yaml"

    @FUZZ
    @given(blob=st.binary(max_size=80))
    def case(blob: bytes) -> None:
        path.write_bytes(blob)
        _check(path, tally, {})

    case()
    tally.boundary = "Karez config bytes"


def test_the_walkthrough_config_is_still_valid(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLE)
    path = config_dir / "karez.yaml"
    path.write_text(CONFIG)
    report = validate_config(load_settings([str(path)], environ={}), PLUGINS)
    assert report.ok, report.errors


def test_karez_test_with_a_missing_required_key_prints_one_clear_line(config_dir: Path) -> None:
    """`karez test` does not validate the whole config first, so a role's missing key must still be a clear error."""
    (config_dir / "missing.yaml").write_text(
        "dispatchers: [{type: tiro_mock, connector: tiro_mock, base_url: 'http://127.0.0.1:9', by: path}]\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "karez.cli", "test", "-c", "missing.yaml", "-p", str(EXAMPLE / "karez"),
         "-d", "tiro_mock"],
        cwd=config_dir, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "interval is required" in run.stderr, run.stderr

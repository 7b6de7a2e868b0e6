"""Fixtures for end-to-end tests: a real nats-server and the seed walkthrough's folder layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tiro.examples import example_dir


def lay_out_walkthrough(target: Path, mock_url: str, *, retention: int = 2) -> Path:
    """The walkthrough's folder (scenario/, karez/<kind>/ stubs, config/karez.yaml) pointing at `mock_url`."""
    source = example_dir("datahall")
    scenario = target / "scenario"
    scenario.mkdir(parents=True)
    for name in ("scenario.yaml", "use-srv1.yaml", "use-srv2.yaml", "test_assets.py"):
        shutil.copy(_find(source, name), scenario / name)
    shutil.copytree(source / "karez", target / "karez")
    (target / "config").mkdir()
    config = (source / "config" / "karez.yaml").read_text()
    # The shipped config runs from scenarios/datahall; the walkthrough keeps the scenario files in scenario/.
    config = config.replace("scenario: scenario.yaml", "scenario: scenario/scenario.yaml")
    config = config.replace(
        'uses: "use-srv1.yaml,use-srv2.yaml"', 'uses: "scenario/use-srv1.yaml,scenario/use-srv2.yaml"'
    )
    # The walkthrough's own typo, kept here only, so the test reproduces it literally (a warning, not a crash).
    assert "SGT: Asia/Singapore" in config
    config = config.replace("SGT: Asia/Singapore", "SGT: Aisa/Singapore")
    config = config.replace("http://localhost:8000", mock_url).replace("retention: 10", f"retention: {retention}")
    (target / "config" / "karez.yaml").write_text(config)
    return target


@pytest.fixture
def walkthrough():
    """lay_out_walkthrough(target, mock_url, retention=2): builds the walkthrough folder and returns it."""
    return lay_out_walkthrough


def _find(source: Path, name: str) -> Path:
    for candidate in (source / "scenario" / name, source / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(name)

"""Fixtures for CLI tests: the shipped example and a Typer runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiro.examples import example_dir
from tiro_prefect.cli.app import app


@pytest.fixture
def datahall() -> Path:
    """The shipped datahall example folder."""
    return example_dir("datahall")


@pytest.fixture
def run():
    """Invoke the tiro CLI in-process; returns the click Result."""
    runner = CliRunner()

    def _run(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return _run

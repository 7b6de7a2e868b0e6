"""Reading the scenario and uses files that Tiro's Karez roles name in their config."""

from __future__ import annotations

from typing import Any

from tiro_models.compile import load_model
from tiro_models.spec import Model


def split_uses(uses: Any) -> list[str]:
    """Uses files from a list or a comma-separated string (spaces around commas allowed, unlike upstream)."""
    if uses is None:
        return []
    if isinstance(uses, str):
        return [part.strip() for part in uses.split(",") if part.strip()]
    return [str(part).strip() for part in uses if str(part).strip()]


def model_for(scenario: str, uses: list[str]) -> Model:
    """The compiled model of a scenario and its uses (paths relative to the working directory)."""
    if not uses:
        raise ValueError(f"no uses files given for scenario {scenario}")
    return load_model(scenario, uses)

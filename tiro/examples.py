"""Where the shipped example scenarios live, for the demo and the tests."""

from __future__ import annotations

from pathlib import Path

# An installed wheel carries the examples inside the package; a checkout has them in its top-level scenarios/ folder.
_PACKAGED = Path(__file__).resolve().parent / "_scenarios"
SCENARIOS_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "scenarios"


def example_dir(name: str = "datahall") -> Path:
    """The folder of a shipped example scenario (scenario.yaml plus use-*.yaml)."""
    return SCENARIOS_DIR / name


def example_files(directory: Path) -> tuple[Path, list[Path]]:
    """The scenario file and the sorted uses files (`use-*.yaml`) of an example folder."""
    scenario = directory / "scenario.yaml"
    uses = sorted(directory.glob("use-*.yaml"))
    if not scenario.is_file():
        raise FileNotFoundError(2, "no scenario.yaml in the example folder", str(directory))
    if not uses:
        raise FileNotFoundError(2, "no use-*.yaml files in the example folder", str(directory))
    return scenario, uses

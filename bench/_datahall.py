"""A scaled copy of the datahall example (more racks and servers) written to a folder, for HTTP/pipeline benches."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tiro.examples import example_dir, example_files

YAML_SCENARIO = "scenario-yaml-library.yaml"  # the same example with its declarative asset library
YAML_LIBRARY = "datahall-library.yaml"


def scaled_datahall(
    folder: Path, racks: int, servers: int, *, time_var: float | None = None
) -> tuple[Path, list[Path]]:
    """Write scenario + uses + library with `racks` racks of `servers` servers; returns (scenario, uses).

    With `time_var` (seconds), every point of the library gets at least that `time_var`, so that the mock stamps
    each point at its own moment in the last `time_var` seconds, as devices polled in turn do (the example's library
    gives one point a `time_var`, so the mock otherwise stamps nearly every point of a round alike)."""
    directory = example_dir("datahall")
    scenario, uses = example_files(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for path in uses:
        shutil.copy(path, folder / path.name)
    if time_var is None:
        shutil.copy(scenario.parent / "test_assets.py", folder / "test_assets.py")
        text = scenario.read_text()
    else:
        library = yaml.safe_load((directory / YAML_LIBRARY).read_text())
        for asset_type in library.values():
            for spec in (asset_type.get("points") or {}).values():
                spec["time_var"] = max(float(spec.get("time_var", 0)), time_var)
        (folder / YAML_LIBRARY).write_text(yaml.safe_dump(library, sort_keys=False, allow_unicode=True))
        text = (directory / YAML_SCENARIO).read_text()
    text = text.replace("$number: 2\n    $type: Rack", f"$number: {racks}\n    $type: Rack")
    text = text.replace("$number: 2-5", f"$number: {servers}")
    (folder / scenario.name).write_text(text)
    return folder / scenario.name, [folder / u.name for u in uses]

"""A scaled copy of the datahall example (more racks and servers) written to a folder, for HTTP/pipeline benches."""

from __future__ import annotations

import shutil
from pathlib import Path

from tiro.examples import example_dir, example_files


def scaled_datahall(folder: Path, racks: int, servers: int) -> tuple[Path, list[Path]]:
    """Write scenario + uses + library with `racks` racks of `servers` servers; returns (scenario, uses)."""
    scenario, uses = example_files(example_dir("datahall"))
    folder.mkdir(parents=True, exist_ok=True)
    for path in [*uses, scenario.parent / "test_assets.py"]:
        shutil.copy(path, folder / path.name)
    text = scenario.read_text()
    text = text.replace("$number: 2\n    $type: Rack", f"$number: {racks}\n    $type: Rack")
    text = text.replace("$number: 2-5", f"$number: {servers}")
    (folder / scenario.name).write_text(text)
    return folder / scenario.name, [folder / u.name for u in uses]

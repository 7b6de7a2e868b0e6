"""Benchmark: a scenario of ≥1,000,000 data points loads, compiles and instantiates in ≤ 3 s and ≤ 1.5 GB peak RSS."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tiro_models.compile import load_model
from tiro_models.instances import instantiate

TARGET_SECONDS = 3.0
TARGET_PEAK_RSS_MB = 1536
HALLS, RACKS, SERVERS, SERVER_POINTS = 10, 100, 100, 10


def write_scenario(root: Path) -> tuple[Path, Path]:
    """Scenario, uses and a declarative YAML asset library for a Site → Hall → Rack → Server tree."""
    server_points = {
        f"Temperature{i}": {"type": "float", "ge": 0, "le": 50, "unit": "°C"} for i in range(SERVER_POINTS)
    }
    library = {
        "Site": {"points": {"Name": {"category": "Attribute", "type": "str"}}},
        "Hall": {"points": {"Temperature": {"type": "float", "ge": 0, "le": 50, "unit": "°C"}}},
        "Rack": {"points": {"Power": {"type": "float", "ge": 0, "le": 1000, "unit": "W"}, "Fans": {"type": "int"}}},
        "Server": {"points": server_points},
    }
    scenario = {
        "$asset_library_name": "bench-library.yaml",
        "$asset_library_path": "./",
        "Site": {
            "$type": "Site",
            "Hall": {
                "$type": "Hall",
                "$number": HALLS,
                "Rack": {"$type": "Rack", "$number": RACKS, "Server": {"$type": "Server", "$number": SERVERS}},
            },
        },
    }
    uses = [{"Site": ["Name", {"Hall": ["Temperature", {"Rack": ["Power", "Fans", {"Server": list(server_points)}]}]}]}]
    (root / "bench-library.yaml").write_text(yaml.safe_dump(library, allow_unicode=True), encoding="utf-8")
    (root / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    (root / "uses.yaml").write_text(yaml.safe_dump(uses, sort_keys=False), encoding="utf-8")
    return root / "scenario.yaml", root / "uses.yaml"


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def machine_reference_seconds(n: int = 1_000_000) -> float:
    """Time to fill a dict with n formatted path strings: the floor for any pure-Python table of n paths."""
    started = time.perf_counter()
    table = {}
    for i in range(n):
        table[f"Site.site_0.Hall.hall_{i % 10}.Rack.rack_{i % 100}.Server.server_{i}.Telemetry.Temperature"] = i
    seconds = time.perf_counter() - started
    del table
    return seconds


def main() -> None:
    """Compile and instantiate, print JSON with seconds and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="tiro-bench-compile-") as tmp:
        scenario, uses = write_scenario(Path(tmp))
        rss_before = _rss_mb()
        started = time.perf_counter()
        model = load_model(scenario, [uses])
        compiled = time.perf_counter()
        instances = instantiate(model, seed=1)
        done = time.perf_counter()
    points = len(instances.points)
    out = {
        "points": points,
        "assets": len(instances.assets),
        "compile_seconds": round(compiled - started, 4),
        "instantiate_seconds": round(done - compiled, 4),
        "total_seconds": round(done - started, 4),
        "points_per_s": round(points / (done - started)),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
        "machine_reference_seconds": round(machine_reference_seconds(), 4),
        "targets": {"points": 1_000_000, "seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_PEAK_RSS_MB},
    }
    out["targets_met"] = (
        points >= 1_000_000 and out["total_seconds"] <= TARGET_SECONDS and out["peak_rss_mb"] <= TARGET_PEAK_RSS_MB
    )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

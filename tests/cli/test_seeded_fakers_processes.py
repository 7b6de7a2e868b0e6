"""`--seed` with a Tiro 0.13-style library (fakers on `random`, Faker, numpy): same values in fresh processes.

Each run is a new process, so nothing but the seed can make two runs agree: module-level Faker instances and the
`random` module start from fresh OS entropy every time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tiro.mock.server import free_port

TIRO = str(Path(sys.executable).parent / "tiro")
LIBRARY = Path(__file__).resolve().parents[1] / "data" / "seeded-fakers"
SCENARIO, USES = str(LIBRARY / "scenario.yaml"), str(LIBRARY / "uses.yaml")
FAKER_POINTS = ("Temperature", "Humidity", "Site", "Front", "Back", "Load", "Wobble", "Label", "Serial")


def _example(seed: int) -> dict:
    done = subprocess.run(
        [TIRO, "schema", "example", SCENARIO, USES, "--seed", str(seed), "--compact"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _leaf_names(tree: dict) -> set[str]:
    names: set[str] = set()
    for value in tree.values():
        if isinstance(value, dict):
            names |= _leaf_names(value)
    return names | {key for key, value in tree.items() if not isinstance(value, dict)}


def test_schema_example_with_a_seed_is_the_same_in_two_fresh_processes() -> None:
    first, again, other = _example(7), _example(7), _example(8)
    assert set(FAKER_POINTS) <= _leaf_names(first), "every faker style of the library is in the example"
    assert first == again
    assert first != other


def _serve_rounds(seed: int) -> dict:
    """Values of two batch rounds and three single-point requests from a fresh `tiro mock serve --seed`."""
    port = free_port()
    server = subprocess.Popen(
        [TIRO, "mock", "serve", SCENARIO, USES, "--port", str(port), "--seed", str(seed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                paths = httpx.get(f"{base}/points/", timeout=5).json()
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mock server did not start: {server.stderr.read().decode() if server.stderr else ''}")
                time.sleep(0.2)
        rounds = []
        for _ in range(2):
            body = httpx.post(f"{base}/points/batch", json=paths, timeout=30).json()["points"]
            rounds.append({path: dp["value"] for path, dp in body.items()})
        single = [httpx.get(f"{base}/points/{paths[0]}", timeout=5).json()["value"] for _ in range(3)]
        return {"paths": paths, "rounds": rounds, "single": single}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_mock_serve_with_a_seed_serves_the_same_rounds_in_two_fresh_processes() -> None:
    first, again = _serve_rounds(7), _serve_rounds(7)
    assert first == again
    assert {path.rsplit(".", 1)[1] for path in first["paths"]} >= set(FAKER_POINTS)
    one, two = first["rounds"]
    telemetry = [path for path in one if ".Telemetry." in path]
    assert [one[p] for p in telemetry] != [two[p] for p in telemetry], "each round draws new telemetry values"
    assert len(set(map(str, first["single"]))) > 1, "successive requests for one point draw new values"
    assert _serve_rounds(8)["rounds"] != first["rounds"]

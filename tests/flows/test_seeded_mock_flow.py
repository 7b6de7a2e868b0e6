"""The mock flows' seed reaches library fakers: a seeded `mock_service` serves the same values after other draws."""

from __future__ import annotations

import random
from pathlib import Path

from tiro_prefect.flows.mock import mock_service

LIBRARY = Path(__file__).resolve().parents[1] / "data" / "seeded-fakers"


def _rounds(seed: int) -> list[dict[str, object]]:
    service = mock_service(str(LIBRARY / "scenario.yaml"), [str(LIBRARY / "uses.yaml")], seed=seed)
    return [{path: dp["value"] for path, dp in service.batch(service.listed)[0].items()} for _ in range(2)]


def test_a_seeded_mock_service_of_the_flows_repeats_its_faker_values() -> None:
    first = _rounds(7)
    random.random()  # the global generator moves on between the two services, as in a long-lived worker
    assert _rounds(7) == first
    assert first[0] != first[1]
    assert _rounds(8) != first

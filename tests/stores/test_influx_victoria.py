"""The InfluxDB store's write path against a real VictoriaMetrics (`/api/v2/write`), read back point by point.

VictoriaMetrics ignores buckets, so each test writes fields of its own names.
"""

from __future__ import annotations

import pytest
from victoria import VictoriaMetrics, skip_without_victoria

from tiro.examples import example_dir, example_files
from tiro.stores.influx import InfluxTelemetryStore
from tiro_models.compile import load_model
from tiro_models.instances import instantiate
from tiro_models.line_protocol import timestamp_ns
from tiro_models.mock import Mocker
from tiro_models.records import decompose


@pytest.fixture(scope="module")
def victoria():
    skip_without_victoria()
    with VictoriaMetrics() as vm:
        yield vm


def _mock_records(seed: int) -> list[dict]:
    model = load_model(*example_files(example_dir("datahall")))
    snapshot = Mocker(instantiate(model, seed=seed), seed=seed).flat()
    records = []
    for i, (path, dp) in enumerate(sorted(snapshot.items())):
        for record in decompose(path, dp):
            record["timestamp"] = 1_700_000_000.0 + i + 0.25
            records.append(record)
    return records


def _expected(records: list[dict], field: str) -> dict:
    """What VictoriaMetrics must hold for one field: labels are every tag of §6, time in ms."""
    out = {}
    for r in records:
        if r["field"] != field or not isinstance(r["value"], int | float) or isinstance(r["value"], bool):
            continue
        tags = {k: str(v) for k, v in r.items() if k not in ("field", "value", "timestamp") and v is not None}
        out[(frozenset(tags.items()), timestamp_ns(r["timestamp"]) // 1_000_000)] = float(r["value"])
    return out


def test_records_written_are_read_back_point_by_point(victoria):
    records = _mock_records(seed=5)
    store = InfluxTelemetryStore(victoria.url, token="t", bucket="records", batch_size=7)
    numeric = [r for r in records if isinstance(r["value"], int | float) and not isinstance(r["value"], bool)]
    assert store.write_records(records) == len([r for r in records if r["value"] is not None])
    fields = sorted({r["field"] for r in numeric})
    assert fields
    for field in fields:
        expected = _expected(numeric, field)
        got = victoria.wait_for_points(f"tiro_telemetry_{field}", len(expected))
        assert got == expected
    store.close()


def test_replaying_the_same_lines_stores_each_point_once(victoria):
    line = "tiro_telemetry,asset_path=R.r,path=R.Replay,type=Telemetry Replay={v} {t}"
    lines = [line.format(v=i, t=1_700_000_000_000_000_000 + i * 1_000_000_000) for i in range(50)]
    store = InfluxTelemetryStore(victoria.url, token="t", batch_size=20)
    assert store.write_lines(lines) == 50
    assert store.write_lines(lines[:25]) == 25
    points = victoria.wait_for_points("tiro_telemetry_Replay", 50)
    assert sorted(points.values()) == [float(i) for i in range(50)]
    store.close()

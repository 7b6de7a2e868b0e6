"""Tiro's Karez roles against a real mock server: dispatching, fetching (per point, batch, uuid), converting."""

from __future__ import annotations

import json
import time

import pytest

from karez.converter.base import ConverterBase
from tiro.examples import example_dir
from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.mock.service import example_service
from tiro.plugins.karez import (
    ConnectorForMockServer,
    DispatcherForMockServer,
    TiroFilterByReferenceConverter,
    TiroPreprocessConverter,
    TiroUpdateInfoForValueConverter,
)

REFERENCE = """uuid_map:
  u-power: DataHall.data_hall_0.CRAC.crac_0.ActivePower
  u-flow: DataHall.data_hall_0.Rack.rack_0.Server.server_0.FlowRate
"""


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "reference.yaml"
    path.write_text(REFERENCE)
    return path


@pytest.fixture
def mock(reference):
    with BackgroundServer(create_asgi(example_service(seed=8, reference=reference))) as server:
        yield server


async def test_dispatcher_lists_paths_and_uuids(mock):
    by_path = DispatcherForMockServer(
        {"type": "tiro_mock", "connector": "c", "interval": 1, "base_url": mock.url, "batch_size": 4}, nats_addr=None
    )
    batches = list(await by_path.process(None))
    client = by_path._client()
    assert list(await by_path.process(None)) == batches  # the next round: an unchanged listing, parsed once
    assert by_path._client() is client  # one HTTP client for every round
    await by_path.close()
    assert client.is_closed
    paths = [p for batch in batches for p in batch["tasks"]]
    assert paths[0] == "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower"
    assert all(len(b["tasks"]) <= 4 for b in batches)
    by_uuid = DispatcherForMockServer(
        {"type": "tiro_mock", "connector": "c", "interval": 1, "base_url": mock.url, "by": "uuid"}, nats_addr=None
    )
    assert [t for b in await by_uuid.process(None) for t in b["tasks"]] == ["u-power", "u-flow"]


def test_dispatcher_rejects_unknown_by():
    with pytest.raises(ValueError, match="'by' must be one of path, uuid"):
        DispatcherForMockServer({"type": "tiro_mock", "connector": "c", "interval": 1, "by": "name"}, nats_addr=None)


@pytest.mark.parametrize("batch", [False, True])
async def test_connector_fetches_items_per_point_or_in_one_batch(mock, batch):
    connector = ConnectorForMockServer({"type": "tiro_mock", "base_url": mock.url, "batch": batch}, nats_addr=None)
    paths = [
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower",
        "DataHall.data_hall_0.Rack.rack_1.Telemetry.ActivePower",
        "DataHall.data_hall_0.NoSuch.x.Telemetry.Y",
    ]
    try:
        items = await connector.process(paths)
    finally:
        await connector.close_http_client()
    assert [i["path"] for i in items] == paths[:2]  # the unknown path is logged and skipped
    for item in items:
        assert item["_karez"]["category"] == "telemetry"
        assert set(item["result"]) >= {"value", "timestamp"}


async def test_connector_by_uuid(mock):
    connector = ConnectorForMockServer({"type": "tiro_mock", "base_url": mock.url, "by": "uuid"}, nats_addr=None)
    try:
        items = await connector.process(["u-power", "nope"])
    finally:
        await connector.close_http_client()
    assert len(items) == 1 and items[0]["name"] == "u-power" and isinstance(items[0]["value"], float)


async def test_preprocess_gives_epoch_records_with_and_without_tz_infos():
    item = {
        "path": "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ReturnTemperature",
        "result": {"value": 23.84, "timestamp": "2022-09-27T04:11:22.666721+00:00", "unit": "°C"},
        "_karez": {"category": "telemetry"},
    }
    for config in ({"type": "tiro_preprocess"}, {"type": "tiro_preprocess", "tz_infos": {"SGT": "Aisa/Singapore"}}):
        converter = TiroPreprocessConverter(config, nats_addr=None)
        records = list(await converter.process(json.loads(json.dumps(item))))
        assert records == [
            {
                "path": "DataHall.CRAC.ReturnTemperature",
                "asset_path": "DataHall.data_hall_0.CRAC.crac_0",
                "DataHall": "data_hall_0",
                "CRAC": "crac_0",
                "type": "Telemetry",
                "field": "ReturnTemperature",
                "value": 23.84,
                "timestamp": 1664251882.666721,
                "unit": "°C",
            }
        ]


async def test_preprocess_reads_naive_timestamps_with_tz_infos():
    converter = TiroPreprocessConverter({"type": "tiro_preprocess", "tz_infos": {"SGT": "Asia/Singapore"}}, None)
    item = {
        "path": "DataHall.data_hall_0.Telemetry.Temperature",
        "result": {"value": 1, "timestamp": "2022-09-27 12:11:22 SGT"},
    }
    (record,) = list(await converter.process(item))
    assert record["timestamp"] == 1664251882.0


def _batch_with_odd_items() -> list:
    ts = "2022-09-27T04:11:22.666721+00:00"
    flow = "DataHall.data_hall_0.Rack.rack_0.Server.server_0.Telemetry.FlowRate"
    return [
        {"path": flow, "result": {"value": 1.5, "timestamp": ts, "unit": "L/hr"}, "_karez": {"category": "telemetry"}},
        {"path": flow, "result": {"value": 2, "timestamp": "2022-09-27T05:00:00+00:00"}},  # no meta
        {"path": flow, "result": {"value": 3, "quality": "good"}, "_karez": {"category": "telemetry"}},  # no time
        {"path": flow, "result": {"value": 4, "Rack": "other"}, "_karez": {"category": "telemetry"}},  # collides
        {"path": flow, "result": 5.5, "_karez": {"category": "telemetry"}},  # a bare value
        {"path": "DataHall.data_hall_0.Rack.rack_1", "result": {"Telemetry": {"ActivePower": {"value": 7}}}},
        {"path": "Data Hall..x", "result": {"value": 1}},  # malformed path
        {"path": ["not", "a", "string"], "result": {"value": 1}},
        {"result": {"value": 1}},  # no path
        "not an object",
        {"path": flow, "result": {"value": 6, "timestamp": ts}, "_karez": {"category": "attribute", "x": 1}},
    ]


async def test_preprocess_batch_path_gives_the_runtime_per_item_outputs():
    """The converter's own batch loop routes exactly what the runtime's generic per-item path routes."""
    config = {"type": "tiro_preprocess", "next": ["a", None]}
    fast = TiroPreprocessConverter(config, nats_addr=None)
    generic = TiroPreprocessConverter(config, nats_addr=None)
    for _ in range(2):  # the second round runs on remembered tags
        ours = await fast.handle_items(_batch_with_odd_items(), "karez.converter.tiro_preprocess")
        theirs = await ConverterBase.handle_items(generic, _batch_with_odd_items(), "karez.converter.tiro_preprocess")
        for (subject_a, a), (subject_b, b) in zip(ours, theirs, strict=True):
            assert subject_a == subject_b
            a, b = dict(a), dict(b)  # each record goes to both targets: compare copies
            if b["timestamp"] > 1.7e9:  # an item without a timestamp gets the current time
                assert abs(a.pop("timestamp") - b.pop("timestamp")) < 60
            assert list(a.items()) == list(b.items())
        assert len(ours) == 2 * 6  # six records, each to both targets
    assert fast.stats.errors == generic.stats.errors == 2 * 4  # key collision, malformed, non-string and no path
    assert fast.stats.dropped == generic.stats.dropped == 2


async def test_update_info_maps_uuids_to_paths(reference):
    d = example_dir("datahall")
    converter = TiroUpdateInfoForValueConverter(
        {
            "type": "tiro_update_info_for_value",
            "reference": str(reference),
            "scenario": str(d / "scenario.yaml"),
            "uses": [str(d / "use-srv1.yaml"), str(d / "use-srv2.yaml")],
        },
        nats_addr=None,
    )
    now = time.time()
    (item,) = list(await converter.process({"name": "u-flow", "value": 3.5, "timestamp": now}))
    assert item == {
        "path": "DataHall.data_hall_0.Rack.rack_0.Server.server_0.Telemetry.FlowRate",
        "result": {"value": 3.5, "timestamp": now},
        "_karez": {"category": "telemetry"},
    }
    assert list(await converter.process({"name": "unknown-uuid", "value": 1})) == []


async def test_filter_by_reference(reference):
    converter = TiroFilterByReferenceConverter(
        {"type": "tiro_filter", "reference": str(reference), "uuid_field": "name"}, nats_addr=None
    )
    assert list(await converter.process({"name": "u-power", "value": 1})) == [{"name": "u-power", "value": 1}]
    assert list(await converter.process({"name": "other", "value": 1})) == []

"""The mock server over real HTTP: upstream routes, shapes and 404 bodies, batch routes, flags and faults."""

from __future__ import annotations

import httpx
import pytest

from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.mock.service import example_service
from tiro_models.validate import validate


def test_points_listing_order_and_single_point(mock_server):
    paths = httpx.get(f"{mock_server.url}/points/").json()
    assert paths[:3] == [
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ActivePower",
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.SupplyTemperature",
        "DataHall.data_hall_0.CRAC.crac_0.Telemetry.ReturnTemperature",
    ]
    # Per asset its own points, then its children: rack_0's points come right before server_0's.
    rack0 = [i for i, p in enumerate(paths) if p.startswith("DataHall.data_hall_0.Rack.rack_0.Telemetry.")]
    assert rack0 == list(range(rack0[0], rack0[0] + len(rack0)))
    assert paths[rack0[-1] + 1].startswith("DataHall.data_hall_0.Rack.rack_0.Server.server_0.Telemetry.")
    dp = httpx.get(f"{mock_server.url}/points/{paths[0]}").json()
    assert set(dp) >= {"value", "timestamp"}
    assert 0 <= dp["value"] <= 1000 and round(dp["value"], 2) == dp["value"]
    assert dp["timestamp"].endswith(("+00:00", "Z"))


def test_unknown_path_and_wrong_category_are_404_with_detail(mock_server):
    missing = httpx.get(f"{mock_server.url}/points/DataHall.data_hall_0.Nope.x.Telemetry.Y")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Cannot find path DataHall.data_hall_0.Nope.x.Telemetry.Y"}
    wrong = httpx.get(f"{mock_server.url}/points/DataHall.data_hall_0.CRAC.crac_0.Attribute.ActivePower")
    assert wrong.status_code == 404  # upstream ignored the category segment; we check it


def test_batch_routes_return_every_point(mock_server):
    paths = httpx.get(f"{mock_server.url}/points/").json()
    all_values = httpx.get(f"{mock_server.url}/points/", params={"values": "true"}).json()
    assert list(all_values) == paths
    body = httpx.post(f"{mock_server.url}/points/batch", json=[*paths[:5], "No.such.Telemetry.point"]).json()
    assert list(body["points"]) == paths[:5]
    assert body["unknown"] == ["No.such.Telemetry.point"]


def test_batch_route_rejects_malformed_and_oversized_bodies(mock_server):
    assert httpx.post(f"{mock_server.url}/points/batch", content=b"{not json").status_code == 400
    assert httpx.post(f"{mock_server.url}/points/batch", json={"a": 1}).status_code == 422
    huge = b"[" + b'"x",' * (3 * 1024 * 1024) + b'"x"]'
    assert httpx.post(f"{mock_server.url}/points/batch", content=huge).status_code == 413


def test_sample_and_hierarchy_shapes(mock_server):
    sample = httpx.get(f"{mock_server.url}/sample").json()
    crac = sample["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]
    assert set(crac) == {"ActivePower", "SupplyTemperature", "ReturnTemperature"}
    hierarchy = httpx.get(f"{mock_server.url}/hierarchy").json()
    assert sorted(hierarchy["DataHall"]["data_hall_0"]["CRAC"]["crac_0"]["Telemetry"]) == sorted(crac)


def test_values_routes_without_reference(mock_server):
    assert httpx.get(f"{mock_server.url}/values/").json() == []
    missing = httpx.get(f"{mock_server.url}/values/abc")
    assert missing.status_code == 404 and missing.json() == {"detail": "Cannot find uuid abc"}


def test_values_routes_with_reference(tmp_path):
    reference = tmp_path / "ref.yaml"
    reference.write_text("uuid_map:\n  u-1: DataHall.data_hall_0.CRAC.crac_0.ActivePower\n")
    with BackgroundServer(create_asgi(example_service(seed=2, reference=reference))) as server:
        assert httpx.get(f"{server.url}/values/").json() == ["u-1"]
        value = httpx.get(f"{server.url}/values/u-1").json()
        assert isinstance(value, float) and 0 <= value <= 1000


@pytest.mark.parametrize("rate", [0.5])
def test_faulty_mock_serves_bad_values(rate):
    service = example_service(seed=4, faulty=rate)
    with BackgroundServer(create_asgi(service)) as server:
        paths = httpx.get(f"{server.url}/points/").json()
        served = httpx.get(f"{server.url}/points/", params={"values": "true"}).json()
    withheld = [p for p in paths if p not in served]
    result = validate(service.mocker.instances.model, served)
    invalid = [e["path"] for e in result.to_dict()["errors"] if e["type"] != "missing"]
    assert withheld and invalid
    assert len(withheld) + len(invalid) < len(paths)
    assert set(invalid) <= set(served)


def test_the_listing_carries_an_etag_and_a_request_with_it_gets_not_modified(mock_server):
    first = httpx.get(f"{mock_server.url}/points/")
    tag = first.headers["etag"]
    assert tag.startswith('"') and first.json()
    for asked in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = httpx.get(f"{mock_server.url}/points/", headers={"If-None-Match": asked})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag), asked
    other = httpx.get(f"{mock_server.url}/points/", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.content == first.content

"""Fuzz HTTP requests to the mock server: random methods, paths, query strings and batch bodies never give a 500."""

from __future__ import annotations

import json

import httpx
import pytest
from fuzz_support import draw_cases
from hypothesis import strategies as st

from tiro.mock.app import MAX_BODY_BYTES, create_asgi
from tiro.mock.service import example_service

ROUTES = ["/hierarchy", "/sample", "/points/", "/points/batch", "/values/", "/docs", "/openapi.json", "/", ""]
PATH_BITS = ["DataHall", "data_hall_0", "Rack", "Telemetry", "Attribute", "..", "%00", "%ff", "%2e%2e", "//", "?"]

methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
paths = st.one_of(
    st.sampled_from(ROUTES),
    st.builds(lambda base, bits: base + "/".join(bits), st.sampled_from(ROUTES), st.lists(st.sampled_from(PATH_BITS))),
    st.builds(lambda base, text: base + text, st.sampled_from(ROUTES), st.text(max_size=30)),
)
query_values = st.one_of(st.sampled_from(["true", "false", "1", "yes", "", "nan", "%ff", "[]"]), st.text(max_size=8))
queries = st.dictionaries(st.sampled_from(["values", "change_attrs", "x", ""]), query_values, max_size=2)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=5), inner, max_size=5)),
    max_leaves=20,
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(st.text(max_size=60), max_size=30).map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"[NaN]", b"[Infinity]", b'["a", NaN]', b"[1e999]", b"\xff\xfe", b"[" * 5000, b'["\\ud800"]']),
)
requests = st.tuples(methods, paths, queries, bodies)

BATCH_BODIES = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(st.one_of(st.text(max_size=80), st.integers(), st.none()), max_size=40).map(
        lambda v: json.dumps(v).encode()
    ),
    st.sampled_from([b"[NaN]", b"[-Infinity]", b"nan", b"{}", b"null", b"[" * 100_000, b'"\x00"', b"[1e999]"]),
)


@pytest.fixture(scope="module")
def service():
    """The datahall mock service (seed 5)."""
    return example_service(seed=5)


def _client(service) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_asgi(service), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://mock")


async def _valid_batch_still_works(client: httpx.AsyncClient, service) -> None:
    known = list(service.listed)[:3]
    answer = await client.post("/points/batch", content=json.dumps([*known, "No.Such.Point"]))
    assert answer.status_code == 200
    assert set(answer.json()["points"]) == set(known) and answer.json()["unknown"] == ["No.Such.Point"]


async def test_mock_http_requests(service, tally) -> None:
    cases = draw_cases(requests, max_examples=300)
    async with _client(service) as client:
        for method, path, query, body in cases:
            try:
                answer = await client.request(method, path, params=query, content=body)
            except httpx.InvalidURL:
                tally.count("unsendable URL")  # refused by the client before it reached the server
                continue
            assert answer.status_code < 500, (method, path, query, body[:80] if body else body, answer.text[:200])
            tally.count(str(answer.status_code))
        await _valid_batch_still_works(client, service)
    tally.boundary = "mock HTTP requests"


async def test_mock_http_batch_bodies(service, tally) -> None:
    cases = draw_cases(BATCH_BODIES, max_examples=300)
    async with _client(service) as client:
        for body in cases:
            answer = await client.post("/points/batch", content=body)
            assert answer.status_code in (200, 400, 413, 422), (body[:80], answer.status_code, answer.text[:200])
            if answer.status_code == 200:
                assert set(answer.json()) == {"points", "unknown"}
            tally.count(str(answer.status_code))
        await _valid_batch_still_works(client, service)
    tally.boundary = "mock POST /points/batch bodies"


async def test_mock_http_huge_bodies(service, tally) -> None:
    async def chunks(total: int):
        sent = 0
        while sent < total:
            yield b"[" if sent == 0 else b'"x",' * 16384
            sent += 1 if sent == 0 else 4 * 16384

    async with _client(service) as client:
        too_big = b"[" + b'"a",' * (MAX_BODY_BYTES // 4) + b'"a"]'
        answer = await client.post("/points/batch", content=too_big)
        assert answer.status_code == 413
        tally.count(str(answer.status_code))
        streamed = await client.post("/points/batch", content=chunks(MAX_BODY_BYTES + 100_000))  # no length
        assert streamed.status_code == 413
        tally.count(str(streamed.status_code))
        many = json.dumps(["x"] * 250_000).encode()  # under the byte limit but over the path limit
        answer = await client.post("/points/batch", content=many)
        assert answer.status_code == 413
        tally.count(str(answer.status_code))
        lying = await client.post("/points/batch", content=b"[]", headers={"content-length": "-1"})
        assert lying.status_code < 500
        tally.count(str(lying.status_code))
        await _valid_batch_still_works(client, service)
    tally.boundary = "mock huge bodies"

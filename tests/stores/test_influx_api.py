"""The InfluxDB store against scripted HTTP answers: bootstrap errors, bucket creation, retry, no secret leaks."""

from __future__ import annotations

import json
import logging

import pytest
from http_double import influx_double
from hypothesis import given, settings
from hypothesis import strategies as st

from tiro.stores.influx import InfluxTelemetryStore, count_lines
from tiro.stores.influx_errors import InfluxError, InfluxRejectedData

TOKEN = "s3cr3t-t0ken-value"
ORG_ID = "0123456789abcdef"
ORGS = {"orgs": [{"id": ORG_ID, "name": "tiro"}]}
LINE = "tiro_telemetry,asset_path=A.a,path=A.P,type=Telemetry P=1.5 1700000000000000000"


@pytest.fixture
def influx():
    with influx_double() as double:
        yield double


def _store(double, **options):
    store = InfluxTelemetryStore(double.url, token=TOKEN, **options)
    store.sleep = lambda seconds: None  # the retry delays themselves are tested on backoff_delay
    return store


def test_bootstrap_creates_a_missing_bucket_with_its_retention(influx):
    influx.script("GET", "/api/v2/orgs", (200, ORGS))
    influx.script("GET", "/api/v2/buckets", (200, {"buckets": []}))
    created = {"id": "b1", "name": "tiro", "orgID": ORG_ID, "retentionRules": [{"type": "expire", "everySeconds": 7}]}
    influx.script("POST", "/api/v2/buckets", (201, created))
    report = _store(influx, retention="7s").bootstrap()
    assert report.created == ["bucket tiro (retention 7s)"]
    body = json.loads(influx.calls("POST", "/api/v2/buckets")[0]["body"])
    assert body["name"] == "tiro" and body["orgID"] == ORG_ID
    assert body["retentionRules"] == [{"type": "expire", "everySeconds": 7}]
    assert influx.calls("GET", "/api/v2/buckets")[0]["query"] == {"name": "tiro", "orgID": ORG_ID}
    assert all(r["headers"]["Authorization"] == f"Token {TOKEN}" for r in influx.requests)
    assert TOKEN not in json.dumps(report.to_dict())


def test_bootstrap_with_the_bucket_in_place_creates_nothing(influx):
    influx.script("GET", "/api/v2/orgs", (200, ORGS))
    influx.script("GET", "/api/v2/buckets", (200, {"buckets": [{"id": "b1", "name": "tiro", "retentionRules": []}]}))
    report = _store(influx).bootstrap()
    assert report.created == [] and not influx.calls("POST", "/api/v2/buckets")


def test_bootstrap_names_a_missing_organization(influx):
    influx.script("GET", "/api/v2/orgs", (404, {"code": "not found", "message": 'organization name "tiro" not found'}))
    with pytest.raises(InfluxError, match="organization 'tiro' does not exist"):
        _store(influx).bootstrap()


def test_bootstrap_says_the_token_was_rejected_without_showing_it(influx):
    influx.script("GET", "/api/v2/orgs", (401, {"code": "unauthorized", "message": "unauthorized access"}))
    with pytest.raises(InfluxError, match="token was rejected") as info:
        _store(influx).bootstrap()
    assert TOKEN not in str(info.value) and influx.url in str(info.value)


def test_bootstrap_without_a_token_says_where_to_set_it(influx, monkeypatch):
    monkeypatch.delenv("TIRO_INFLUX_TOKEN", raising=False)
    monkeypatch.delenv("INFLUX_TOKEN", raising=False)
    influx.script("GET", "/api/v2/orgs", (401, {"code": "unauthorized", "message": "unauthorized access"}))
    with pytest.raises(InfluxError, match="set TIRO_INFLUX_TOKEN"):
        InfluxTelemetryStore(influx.url).bootstrap()


def test_unreachable_server_is_a_clear_error():
    store = InfluxTelemetryStore("http://127.0.0.1:9", token=TOKEN, max_retries=0, timeout=2)
    with pytest.raises(InfluxError, match=r"127\.0\.0\.1:9") as info:
        store.bootstrap()
    assert TOKEN not in str(info.value)


def test_writes_retry_429_and_5xx_then_succeed(influx):
    influx.script(
        "POST",
        "/api/v2/write",
        (429, {"code": "too many requests", "message": "slow down"}, {"Retry-After": "0"}),
        (503, {"code": "unavailable", "message": "busy"}),
        (204, None),
    )
    store = _store(influx)
    assert store.write_lines([LINE, LINE.replace("P=1.5", "P=2.5")]) == 2
    writes = influx.calls("POST", "/api/v2/write")
    assert len(writes) == 3
    assert writes[-1]["body"].decode() == LINE + "\n" + LINE.replace("P=1.5", "P=2.5")
    assert writes[-1]["query"] == {"org": "tiro", "bucket": "tiro", "precision": "ns"}


def test_a_write_that_keeps_failing_raises_without_the_token_in_text_or_logs(influx, caplog):
    influx.script("POST", "/api/v2/write", (500, {"code": "internal error", "message": f"echo {TOKEN}"}))
    store = _store(influx, max_retries=2)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InfluxError) as info:
        store.write_lines([LINE])
    assert len(influx.calls("POST", "/api/v2/write")) == 3
    text = str(info.value)
    assert "after 3 attempts" in text and "HTTP 500" in text
    assert TOKEN not in text and TOKEN not in repr(info.value) and TOKEN not in caplog.text
    assert TOKEN not in repr(store) and TOKEN not in repr(store.settings)


def test_rejected_data_is_not_retried(influx):
    influx.script("POST", "/api/v2/write", (400, {"code": "invalid", "message": "unable to parse 'x'"}))
    with pytest.raises(InfluxRejectedData, match="unable to parse"):
        _store(influx).write_lines(["x"])
    assert len(influx.calls("POST", "/api/v2/write")) == 1


def test_batches_are_split_at_batch_size_lines_never_inside_a_message(influx):
    store = _store(influx, batch_size=3)
    messages = ["\n".join([LINE] * 2), LINE, "\n".join([LINE] * 4) + "\n", "", "# comment", LINE]
    assert store.write_lines(messages) == 8
    bodies = [r["body"].decode() for r in influx.calls("POST", "/api/v2/write")]
    assert [b.count("\n") + 1 for b in bodies] == [3, 4, 1]
    assert all(line == LINE for b in bodies for line in b.split("\n"))


def test_write_records_uses_the_upstream_measurement_and_tags(influx):
    record = {
        "path": "DataHall.CRAC.ReturnTemperature",
        "asset_path": "DataHall.data_hall_0.CRAC.crac_0",
        "DataHall": "data_hall_0",
        "CRAC": "crac_0",
        "type": "Telemetry",
        "field": "ReturnTemperature",
        "value": 23.84,
        "timestamp": 1664251882.666721,
    }
    nan = dict(record, value=float("nan"))
    assert _store(influx).write_records([record, nan]) == 1
    body = influx.calls("POST", "/api/v2/write")[0]["body"].decode()
    assert body == (
        "tiro_telemetry,CRAC=crac_0,DataHall=data_hall_0,asset_path=DataHall.data_hall_0.CRAC.crac_0,"
        "path=DataHall.CRAC.ReturnTemperature,type=Telemetry ReturnTemperature=23.84 1664251882666721024"
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["m f=1 1", "", "# note", "m,t=a#b f=2", "\r", " "]), max_size=12))
def test_count_lines_counts_the_points_of_any_text(lines):
    body = "\n".join(lines)
    assert count_lines(body) == sum(1 for line in lines if line and not line.startswith("#"))

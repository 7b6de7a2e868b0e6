"""InfluxDB settings: URL forms, options, environment variables, secrets kept out of reprs, backoff."""

from __future__ import annotations

import random

import pytest

from tiro.stores.influx import InfluxTelemetryStore
from tiro.stores.influx_errors import backoff_delay
from tiro.stores.influx_settings import InfluxSettings, redact_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("TIRO_INFLUX_TOKEN", "INFLUX_TOKEN", "TIRO_INFLUX_ORG", "TIRO_INFLUX_BUCKET"):
        monkeypatch.delenv(name, raising=False)


def test_influx_scheme_and_query_options():
    s = InfluxSettings.from_url("influx://db.example:8086?org=acme&bucket=dc1&retention=30d&batch_size=100")
    assert (s.url, s.org, s.bucket, s.retention, s.batch_size) == (
        "http://db.example:8086",
        "acme",
        "dc1",
        2592000,
        100,
    )
    assert InfluxSettings.from_url("influx+https://db.example").url == "https://db.example"


def test_options_win_over_the_environment_which_wins_over_defaults(monkeypatch):
    monkeypatch.setenv("INFLUX_TOKEN", "from-influx-env")
    monkeypatch.setenv("TIRO_INFLUX_ORG", "env-org")
    s = InfluxSettings.from_url("http://h:8086", bucket="b")
    assert (s.token, s.org, s.bucket) == ("from-influx-env", "env-org", "b")
    monkeypatch.setenv("TIRO_INFLUX_TOKEN", "from-tiro-env")
    assert InfluxSettings.from_url("http://h:8086").token == "from-tiro-env"
    assert InfluxSettings.from_url("http://h:8086", token="given").token == "given"
    assert InfluxSettings.from_url("http://h:8086").bucket == "tiro"


def test_secrets_in_the_url_are_used_but_never_shown():
    store = InfluxTelemetryStore("influx://user:pw-secret@h:8086?token=tok-secret&org=o")
    assert store.settings.token == "tok-secret"
    shown = repr(store) + repr(store.settings) + store.settings.public_url
    assert "secret" not in shown
    assert redact_url("http://u:p@h:1/x?token=t") == "http://h:1/x"


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("ftp://h", {}, "expected influx://host:port"),
        ("http://h", {"colour": "red"}, "unknown InfluxDB option"),
        ("http://h", {"batch_size": "many"}, "batch_size='many' is not a valid int"),
        ("http://h", {"batch_size": 0}, "at least 1"),
    ],
)
def test_bad_settings_are_clear_errors(url, options, message):
    with pytest.raises(ValueError, match=message):
        InfluxSettings.from_url(url, **options)


def test_backoff_grows_is_capped_and_honours_retry_after():
    assert all(0 <= backoff_delay(0) <= 0.2 for _ in range(50))
    assert all(0 <= backoff_delay(20) <= 10 for _ in range(50))
    assert max(backoff_delay(4) for _ in range(200)) > 0.2  # the window grows with the attempt
    state = random.getstate()
    backoff_delay(3)
    assert random.getstate() == state  # its jitter leaves the global generator (seeded mock output) alone
    assert backoff_delay(3, retry_after=2.5) == 2.5


def test_store_urls_open_the_influx_backend_with_its_options():
    from tiro.stores.urls import open_telemetry_store

    store = open_telemetry_store("influx+https://db.example:8086", token="t", bucket="dc1")
    assert isinstance(store, InfluxTelemetryStore)
    assert (store.settings.url, store.settings.bucket, store.settings.token) == ("https://db.example:8086", "dc1", "t")
    assert isinstance(open_telemetry_store("http://db.example:8086"), InfluxTelemetryStore)

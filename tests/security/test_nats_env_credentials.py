"""Prefect tasks connect with the same `KAREZ_NATS_*` credentials as `karez deploy` (a token server as witness)."""

from __future__ import annotations

import pytest

from karez.embedded_nats import EmbeddedNats
from karez.nats_options import NatsOptions
from tiro_prefect.tasks.nats_link import NatsUnavailable, nats_connection


def test_environment_variables_fill_every_credential_field() -> None:
    env = {
        "KAREZ_NATS_USER": "u",
        "KAREZ_NATS_PASSWORD": "p",
        "KAREZ_NATS_TOKEN": "t",
        "KAREZ_NATS_CREDS": "/c.creds",
        "KAREZ_NATS_NKEY_SEED": "/s.nk",
        "KAREZ_NATS_TLS_CA": "/ca.pem",
        "KAREZ_NATS_TLS_CERT": "/cert.pem",
        "KAREZ_NATS_TLS_KEY": "/key.pem",
    }
    options = NatsOptions.from_environment("a:1,b:2", env)
    assert options.servers == ["nats://a:1", "nats://b:2"]
    assert (options.user, options.password, options.token) == ("u", "p", "t")
    assert (options.creds_file, options.nkey_seed_file) == ("/c.creds", "/s.nk")
    assert (options.tls_ca, options.tls_cert, options.tls_key) == ("/ca.pem", "/cert.pem", "/key.pem")
    assert NatsOptions.from_environment(None, {"KAREZ_NATS_TOKEN": ""}).token is None


async def test_a_task_connection_uses_the_token_from_the_environment(
    token_nats: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"nats://127.0.0.1:{token_nats.port}"
    monkeypatch.delenv("KAREZ_NATS_TOKEN", raising=False)
    with pytest.raises(NatsUnavailable):
        async with nats_connection(url):
            pass
    monkeypatch.setenv("KAREZ_NATS_TOKEN", token_nats.token)
    async with nats_connection(url) as nc:
        sub = await nc.subscribe("env.check")
        await nc.publish("env.check", b"ok")
        assert (await sub.next_msg(timeout=2)).data == b"ok"

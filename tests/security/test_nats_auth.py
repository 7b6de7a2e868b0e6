"""NATS user/password, token and TLS against real authenticated nats-servers, in-process and through `karez deploy`."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import nats
import nats.errors
import pytest
import yaml
from security_support import PASSWORD, TOKEN, USER, run_karez_until_running

from karez.embedded_nats import EmbeddedNats
from karez.nats_options import NatsAuthError, NatsOptions, connect
from karez.plugins import all_plugins
from karez.runtime import Runtime, build_roles
from karez.settings import load_settings

CONFIG = {"converters": [{"type": "echo", "name": "sec_echo"}]}


def _plain_url(server: EmbeddedNats) -> str:
    scheme = "tls" if server.tls_cert else "nats"
    return f"{scheme}://127.0.0.1:{server.port}"


async def _round_trip(options: NatsOptions, client_kwargs: dict, tmp_path: Path) -> bytes:
    """Run an `echo` converter on `options` and return what it forwards for one message."""
    (tmp_path / "karez.yaml").write_text(yaml.safe_dump(CONFIG))
    roles = build_roles(load_settings([str(tmp_path / "karez.yaml")], environ={}), all_plugins(None))
    runtime = Runtime(roles, options, metrics_interval=0)
    await runtime.start()
    client = await nats.connect(options.servers[0], **client_kwargs)
    try:
        sub = await client.subscribe("karez.*.sec_echo")
        await client.publish("karez.converter.sec_echo", b'{"n": 1}')
        msg = await sub.next_msg(timeout=20)
        return msg.data
    finally:
        await client.close()
        await runtime.shutdown()


async def test_user_and_password_work_through_the_runtime(password_nats: EmbeddedNats, tmp_path: Path) -> None:
    options = NatsOptions.from_address(_plain_url(password_nats), user=USER, password=PASSWORD)
    assert b'"n"' in await _round_trip(options, {"user": USER, "password": PASSWORD}, tmp_path)


async def test_credentials_in_the_url_work_too(password_nats: EmbeddedNats, tmp_path: Path) -> None:
    options = NatsOptions.from_address(password_nats.url)
    assert b'"n"' in await _round_trip(options, {"user": USER, "password": PASSWORD}, tmp_path)


async def test_a_token_works_through_the_runtime(token_nats: EmbeddedNats, tmp_path: Path) -> None:
    options = NatsOptions.from_address(_plain_url(token_nats), token=TOKEN)
    assert b'"n"' in await _round_trip(options, {"token": TOKEN}, tmp_path)


@pytest.mark.parametrize(
    "kwargs",
    [{"user": USER, "password": "wrong-pw-123"}, {"user": "mallory", "password": PASSWORD}, {}],
    ids=["wrong password", "wrong user", "no credentials"],
)
async def test_wrong_credentials_fail_with_a_clear_error(password_nats: EmbeddedNats, kwargs: dict) -> None:
    options = NatsOptions.from_address(_plain_url(password_nats), reconnect_wait=0.05, **kwargs)
    with pytest.raises(NatsAuthError) as failed:
        await asyncio.wait_for(connect(options, "karez"), timeout=30)  # bound against a hang, not a timing check
    text = str(failed.value)
    assert "127.0.0.1" in text and "authoriz" in text.lower()
    assert PASSWORD not in text and "wrong-pw-123" not in text


async def test_a_wrong_token_fails_with_a_clear_error(token_nats: EmbeddedNats) -> None:
    options = NatsOptions.from_address(_plain_url(token_nats), token="not-the-token", reconnect_wait=0.05)
    with pytest.raises(NatsAuthError) as failed:
        await asyncio.wait_for(connect(options, "karez"), timeout=30)
    assert "not-the-token" not in str(failed.value) and TOKEN not in str(failed.value)


async def test_tls_with_a_self_signed_certificate(self_signed: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = self_signed
    async with EmbeddedNats(tls_cert=str(cert), tls_key=str(key)) as server:
        options = NatsOptions.from_address(_plain_url(server), tls_ca=str(cert))
        ctx = options.tls_context()
        assert b'"n"' in await _round_trip(options, {"tls": ctx}, tmp_path)
        untrusted = NatsOptions.from_address(_plain_url(server), reconnect_wait=0.05)
        with pytest.raises((ssl.SSLError, nats.errors.Error, OSError)):  # the client does not trust the certificate
            await asyncio.wait_for(nats.connect(untrusted.servers[0], allow_reconnect=False), timeout=30)


async def _deploy(args: list[str], cwd: Path) -> tuple[int | None, str]:
    """`karez deploy`; stopped with SIGTERM once it runs. Returns (exit code, output)."""
    return await run_karez_until_running(["deploy", "-c", "karez.yaml", *args, "--metrics-interval", "0"], cwd, CONFIG)


async def test_karez_deploy_with_the_right_password_runs_and_never_prints_it(
    password_nats: EmbeddedNats, tmp_path: Path
) -> None:
    code, output = await _deploy(["-a", _plain_url(password_nats), "--user", USER, "--password", PASSWORD], tmp_path)
    assert code == 0 and "[KAREZ] Running." in output, output
    assert PASSWORD not in output
    code, output = await _deploy(["-a", password_nats.url], tmp_path)  # credentials inside the URL
    assert code == 0 and "[KAREZ] Running." in output, output
    assert PASSWORD not in output, output


async def test_karez_deploy_with_a_wrong_password_exits_with_one_clear_line(
    password_nats: EmbeddedNats, tmp_path: Path
) -> None:
    code, output = await _deploy(["-a", _plain_url(password_nats), "--user", USER, "--password", "bad-pw-42"], tmp_path)
    assert code not in (0, None) and "Running." not in output
    assert "Traceback" not in output and "authoriz" in output.lower(), output
    assert "bad-pw-42" not in output

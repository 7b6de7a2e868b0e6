"""NATS nkey and creds (operator-mode JWT) auth against real nats-servers: runtime, `karez deploy`, secrecy."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytest.importorskip("nkeys", reason="nkey and creds authentication need the nkeys package")

from security_support import creds_text, new_nkey, operator_setup, run_karez_until_running

from karez.embedded_nats import EmbeddedNats
from karez.nats_options import NatsAuthError, NatsCredentialsError, NatsOptions, connect
from karez.plugins import all_plugins
from karez.runtime import Runtime, build_roles
from karez.settings import load_settings

CONFIG = {"converters": [{"type": "echo", "name": "nk_echo"}]}


@pytest.fixture(scope="module")
def user_key() -> tuple[str, str]:
    """(seed, public key) of the user the nkey server lets in."""
    return new_nkey("user")


@pytest.fixture(scope="module")
def nkey_nats(user_key: tuple[str, str]) -> Iterator[EmbeddedNats]:
    """A nats-server whose only user is `user_key`'s public nkey."""
    with EmbeddedNats(nkey_users=[user_key[1]]) as server:
        yield server


@pytest.fixture(scope="module")
def operator() -> dict:
    """Operator, accounts and one user, with JWTs signed here."""
    return operator_setup()


@pytest.fixture(scope="module")
def jwt_nats(operator: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """A nats-server in operator mode (memory resolver) trusting `operator`."""
    keys = {k: operator[k] for k in ("operator_jwt", "account_jwts", "system_account")}
    with EmbeddedNats(store_dir=tmp_path_factory.mktemp("jwt-js"), **keys) as server:
        yield server


def _address(server: EmbeddedNats) -> str:
    return f"nats://127.0.0.1:{server.port}"


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


async def _round_trip(options: NatsOptions, tmp_path: Path) -> bytes:
    """Run an `echo` converter on `options`; a client with the same options sends one message and gets it back."""
    (tmp_path / "karez.yaml").write_text(yaml.safe_dump(CONFIG))
    roles = build_roles(load_settings([str(tmp_path / "karez.yaml")], environ={}), all_plugins(None))
    runtime = Runtime(roles, options, metrics_interval=0)
    await runtime.start()
    client = await connect(options, "nk-test-client")
    try:
        sub = await client.subscribe("karez.*.nk_echo")
        await client.publish("karez.converter.nk_echo", b'{"n": 1}')
        return (await sub.next_msg(timeout=20)).data
    finally:
        await client.close()
        await runtime.shutdown()


async def test_an_nkey_seed_works_through_the_runtime(
    nkey_nats: EmbeddedNats, user_key: tuple[str, str], tmp_path: Path
) -> None:
    seed_file = _write(tmp_path / "user.nk", user_key[0] + "\n")
    options = NatsOptions.from_address(_address(nkey_nats), nkey_seed_file=seed_file)
    assert json.loads(await _round_trip(options, tmp_path)) == {"n": 1}


async def test_a_creds_file_works_through_the_runtime(jwt_nats: EmbeddedNats, operator: dict, tmp_path: Path) -> None:
    creds = _write(tmp_path / "user.creds", creds_text(operator["user_jwt"], operator["user_seed"]))
    options = NatsOptions.from_address(_address(jwt_nats), creds_file=creds)
    assert json.loads(await _round_trip(options, tmp_path)) == {"n": 1}


async def test_the_servers_let_nobody_in_without_the_key(nkey_nats: EmbeddedNats, jwt_nats: EmbeddedNats) -> None:
    for server in (nkey_nats, jwt_nats):
        with pytest.raises(NatsAuthError):
            await asyncio.wait_for(connect(NatsOptions.from_address(_address(server), reconnect_wait=0.05), "x"), 30)


async def test_a_wrong_nkey_seed_fails_fast_without_showing_it(nkey_nats: EmbeddedNats, tmp_path: Path) -> None:
    stranger, _ = new_nkey("user")
    options = NatsOptions.from_address(
        _address(nkey_nats), nkey_seed_file=_write(tmp_path / "s.nk", stranger), reconnect_wait=0.05
    )
    with pytest.raises(NatsAuthError) as failed:
        await asyncio.wait_for(connect(options, "karez"), timeout=30)  # bound against a hang, not a timing check
    assert "127.0.0.1" in str(failed.value) and "authoriz" in str(failed.value).lower()
    assert stranger not in str(failed.value)


async def test_creds_of_an_unknown_account_are_refused(jwt_nats: EmbeddedNats, tmp_path: Path) -> None:
    other = operator_setup()  # a user of an account the server's operator never signed
    creds = _write(tmp_path / "other.creds", creds_text(other["user_jwt"], other["user_seed"]))
    options = NatsOptions.from_address(_address(jwt_nats), creds_file=creds, reconnect_wait=0.05)
    with pytest.raises(NatsAuthError) as failed:
        await asyncio.wait_for(connect(options, "karez"), timeout=30)
    assert not isinstance(failed.value, NatsCredentialsError)  # the server refused it, the file itself is fine
    assert other["user_seed"] not in str(failed.value) and other["user_jwt"] not in str(failed.value)


def _typo(seed: str) -> str:
    """The seed with one character in the middle changed (the checksum catches it, the key would differ)."""
    return seed[:20] + ("B" if seed[20] != "B" else "C") + seed[21:]


def _bad_creds(operator: dict) -> dict[str, tuple[str, str]]:
    """name -> (file content, expected message part) of creds files that cannot work."""
    jwt, seed = operator["user_jwt"], operator["user_seed"]
    good = creds_text(jwt, seed)
    stranger_seed, _ = new_nkey("user")
    return {
        "empty": ("", "no '-----BEGIN NATS USER JWT-----' line"),
        "seed only (nats-py would loop forever)": (good.split("\n\n", 1)[1], "BEGIN NATS USER JWT"),
        "no seed": (good.split("*****")[0], "no '-----BEGIN USER NKEY SEED-----' line"),
        "jwt not a jwt": (good.replace(jwt, "not-a-jwt"), "line 2: not a NATS user JWT"),
        "jwt cut short": (good.replace(jwt, jwt[:-1]), "line 2: not a NATS user JWT"),
        "seed with a typo": (good.replace(seed, _typo(seed)), "line 10: not a valid nkey seed"),
        "seed of another user": (
            good.replace(seed, stranger_seed),
            "line 10 does not belong to the user JWT on line 2",
        ),
        "windows line ends": (good.replace("\n", "\r\n"), "line 2: Windows line ends"),
    }


async def test_unusable_creds_files_are_named_with_their_line_and_never_shown(operator: dict, tmp_path: Path) -> None:
    cases = _bad_creds(operator)
    for name, (content, expected) in cases.items():
        path = _write(tmp_path / "bad.creds", content)
        options = NatsOptions.from_address("nats://127.0.0.1:9", creds_file=path)  # refused before any connection
        with pytest.raises(NatsCredentialsError) as failed:
            await asyncio.wait_for(connect(options, "karez"), timeout=30)
        text = str(failed.value)
        assert path in text and expected in text, (name, text)
        assert operator["user_seed"] not in text and operator["user_jwt"][:40] not in text, name


@pytest.mark.parametrize("case", ["empty", "junk", "typo", "account seed"])
async def test_unusable_nkey_seed_files_are_named_and_never_shown(
    case: str, user_key: tuple[str, str], tmp_path: Path
) -> None:
    content, expected = {
        "empty": ("", "not a valid nkey seed"),
        "junk": ("SU-not-base32\n", "not a valid nkey seed"),
        "typo": (_typo(user_key[0]), "not a valid nkey seed"),
        "account seed": (new_nkey("account")[0], "the seed is for a key of kind account, not a user key"),
    }[case]
    path = _write(tmp_path / "bad.nk", content)
    with pytest.raises(NatsCredentialsError) as failed:
        NatsOptions.from_address("nats://127.0.0.1:9", nkey_seed_file=path).connect_kwargs()
    assert path in str(failed.value) and expected in str(failed.value)
    assert not content or content.strip() not in str(failed.value)


def test_missing_files_and_mixed_options_are_clear_errors(tmp_path: Path, user_key: tuple[str, str]) -> None:
    missing = str(tmp_path / "nowhere.creds")
    with pytest.raises(NatsCredentialsError, match=r"nowhere\.creds: cannot read it \(No such file"):
        NatsOptions(creds_file=missing).check_credential_files()
    seed_file = _write(tmp_path / "u.nk", user_key[0])
    with pytest.raises(NatsCredentialsError, match="not both"):
        NatsOptions(creds_file=seed_file, nkey_seed_file=seed_file).check_credential_files()
    assert NatsOptions(nkey_seed_file=seed_file).connect_kwargs()["nkeys_seed"] == seed_file


def test_without_the_nkeys_package_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, user_key: tuple[str, str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "nkeys", None)  # makes `import nkeys` fail as on a machine without it
    seed_file = _write(tmp_path / "u.nk", user_key[0])
    with pytest.raises(NatsCredentialsError, match="need the nkeys package: pip install nkeys"):
        NatsOptions(nkey_seed_file=seed_file).check_credential_files()


async def test_runtime_logs_never_show_the_creds(operator: dict, tmp_path: Path, caplog) -> None:
    """Disconnect and reconnect (nats-py signs the new server nonce from the file again): nothing secret is logged."""
    keys = {k: operator[k] for k in ("operator_jwt", "account_jwts", "system_account")}
    server = EmbeddedNats(store_dir=tmp_path / "js", **keys)
    await asyncio.to_thread(server.start)
    creds = _write(tmp_path / "user.creds", creds_text(operator["user_jwt"], operator["user_seed"]))
    (tmp_path / "k.yaml").write_text(yaml.safe_dump(CONFIG))
    roles = build_roles(load_settings([str(tmp_path / "k.yaml")], environ={}), all_plugins(None))
    options = NatsOptions.from_address(_address(server), creds_file=creds, reconnect_wait=0.05)
    runtime = Runtime(roles, options, metrics_interval=0)
    try:
        with caplog.at_level(logging.DEBUG):
            await runtime.start()
            runtime.reconnected.clear()
            await asyncio.to_thread(server.restart)
            await asyncio.wait_for(runtime.reconnected.wait(), timeout=30)
            await runtime.shutdown()
    finally:
        await asyncio.to_thread(server.close)
    assert "Reconnected to NATS at 127.0.0.1" in caplog.text
    assert operator["user_seed"] not in caplog.text and operator["user_jwt"] not in caplog.text


async def _karez(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run `karez <args>`, SIGTERM it once it runs; (exit code, stdout + stderr)."""
    return await run_karez_until_running(args, cwd, CONFIG, env)


def _deploy_args(server: EmbeddedNats) -> list[str]:
    return ["deploy", "-c", "karez.yaml", "-a", _address(server), "--metrics-interval", "0"]


async def test_karez_deploy_with_nkey_seed_and_creds(
    nkey_nats: EmbeddedNats, jwt_nats: EmbeddedNats, user_key: tuple[str, str], operator: dict, tmp_path: Path
) -> None:
    seed_file = _write(tmp_path / "user.nk", user_key[0])
    code, output = await _karez([*_deploy_args(nkey_nats), "--nkey-seed", seed_file], tmp_path)
    assert code == 0 and "[KAREZ] Running." in output, output
    creds = _write(tmp_path / "user.creds", creds_text(operator["user_jwt"], operator["user_seed"]))
    code, creds_output = await _karez(_deploy_args(jwt_nats), tmp_path, env={"KAREZ_NATS_CREDS": creds})
    assert code == 0 and "[KAREZ] Running." in creds_output, creds_output
    for secret in (user_key[0], operator["user_seed"], operator["user_jwt"]):
        assert secret not in output + creds_output


async def test_karez_deploy_with_a_wrong_seed_or_bad_creds_exits_2_with_one_clear_line(
    nkey_nats: EmbeddedNats, jwt_nats: EmbeddedNats, operator: dict, tmp_path: Path
) -> None:
    stranger, _ = new_nkey("user")
    env = {"KAREZ_NATS_NKEY_SEED": _write(tmp_path / "stranger.nk", stranger)}
    code, refused = await _karez(_deploy_args(nkey_nats), tmp_path, env=env)
    assert code == 2 and "Running." not in refused and "authoriz" in refused.lower(), refused
    bad = creds_text(operator["user_jwt"], operator["user_seed"]).replace(operator["user_jwt"], "eyJ.broken")
    creds = _write(tmp_path / "bad.creds", bad)
    code, malformed = await _karez([*_deploy_args(jwt_nats), "--creds", creds, "--connection-per-role"], tmp_path)
    assert code == 2 and "Running." not in malformed and f"{creds} line 2: not a NATS user JWT" in malformed, malformed
    for output in (refused, malformed):
        assert "Traceback" not in output
        assert stranger not in output and operator["user_seed"] not in output


async def test_karez_test_output_never_shows_the_seed_or_creds(
    user_key: tuple[str, str], operator: dict, tmp_path: Path
) -> None:
    """`karez test` runs offline; NATS credentials in its environment must not leak into its output or logs."""
    creds = _write(tmp_path / "user.creds", creds_text(operator["user_jwt"], operator["user_seed"]))
    env = {"KAREZ_NATS_NKEY_SEED": _write(tmp_path / "user.nk", user_key[0]), "KAREZ_NATS_CREDS": creds}
    (tmp_path / "input.json").write_text('{"n": 1}')
    args = ["test", "-c", "karez.yaml", "-v", "nk_echo", "-i", "input.json", "--verbose", "--logging-level", "DEBUG"]
    code, output = await _karez(args, tmp_path, env=env)
    assert code == 0 and '"n": 1' in output, output
    for secret in (user_key[0], operator["user_seed"], operator["user_jwt"]):
        assert secret not in output

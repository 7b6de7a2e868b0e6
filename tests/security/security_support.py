"""Constants and helpers shared by the security tests: credentials, nkeys and NATS JWTs for authenticated servers."""

import asyncio
import base64
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import yaml

USER, PASSWORD, TOKEN = "alice", "pw-S3cret-7f2a", "tok-S3cret-91c4"


def new_nkey(kind: str) -> tuple[str, str]:
    """(seed, public key) of a fresh nkey; kind is "user", "account" or "operator"."""
    import nkeys

    prefix = {"user": nkeys.PREFIX_BYTE_USER, "account": nkeys.PREFIX_BYTE_ACCOUNT}.get(
        kind, nkeys.PREFIX_BYTE_OPERATOR
    )
    seed = nkeys.encode_seed(os.urandom(32), prefix)
    pair = nkeys.from_seed(bytearray(seed))
    return seed.decode(), pair.public_key.decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issue_jwt(issuer_seed: str, subject: str, name: str, nats: dict) -> str:
    """A NATS JWT (header typ JWT, alg ed25519-nkey) for `subject`, signed by `issuer_seed`, per the NATS JWT spec."""
    import nkeys

    issuer = nkeys.from_seed(bytearray(issuer_seed.encode()))
    claims = {"jti": "", "iat": int(time.time()), "iss": issuer.public_key.decode(), "name": name, "sub": subject,
              "nats": {**nats, "version": 2}}  # fmt: skip
    # The JWT id is the base32 SHA-512/256 of the claims with an empty id, as the reference implementation makes it.
    digest = hashlib.new("sha512_256", json.dumps(claims, separators=(",", ":")).encode()).digest()
    claims["jti"] = base64.b32encode(digest).rstrip(b"=").decode()
    header = _b64url(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64url(issuer.sign(f"{header}.{body}".encode()))
    return f"{header}.{body}.{signature}"


UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


def operator_setup() -> dict:
    """Operator, system account, account and user JWTs (and the user's seed) for a nats-server in operator mode."""
    op_seed, op_pub = new_nkey("operator")
    acct_seed, acct_pub = new_nkey("account")
    user_seed, user_pub = new_nkey("user")
    _, sys_pub = new_nkey("account")
    account_limits = {**UNLIMITED, "imports": -1, "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}
    return {
        "operator_jwt": issue_jwt(op_seed, op_pub, "karez-op", {"type": "operator"}),
        "account_jwts": {
            acct_pub: issue_jwt(op_seed, acct_pub, "karez", {"type": "account", "limits": account_limits}),
            sys_pub: issue_jwt(op_seed, sys_pub, "SYS", {"type": "account", "limits": account_limits}),
        },
        "system_account": sys_pub,
        "user_jwt": issue_jwt(acct_seed, user_pub, "roles", {"type": "user", "pub": {}, "sub": {}, **UNLIMITED}),
        "user_seed": user_seed,
        "account_seed": acct_seed,
    }


def creds_text(user_jwt: str, user_seed: str) -> str:
    """A creds file in the layout `nsc generate creds` writes (JWT block, then seed block)."""
    return (
        f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user_seed}\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


async def run_karez_until_running(
    args: list[str], cwd: Path, config: dict, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run `karez <args>` with `config` as karez.yaml in `cwd`, SIGTERM it once it runs; (exit code, output)."""
    (cwd / "karez.yaml").write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "karez.cli", *args,
        cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    lines: list[str] = []
    assert proc.stdout is not None
    while raw := await asyncio.wait_for(proc.stdout.readline(), timeout=60):
        lines.append(raw.decode().rstrip())
        if "[KAREZ] Running." in lines[-1]:
            proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), timeout=60), "\n".join(lines)

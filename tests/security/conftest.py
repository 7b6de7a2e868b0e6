"""Fixtures for security tests: authenticated nats-servers, a self-signed certificate, `karez deploy` runs."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from security_support import PASSWORD, TOKEN, USER

from karez.embedded_nats import EmbeddedNats


@pytest.fixture(scope="module")
def password_nats() -> Iterator[EmbeddedNats]:
    """A nats-server that wants user alice with PASSWORD."""
    with EmbeddedNats(user=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def token_nats() -> Iterator[EmbeddedNats]:
    """A nats-server that wants TOKEN."""
    with EmbeddedNats(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cert, key) PEM files of a self-signed certificate for 127.0.0.1 made with `cryptography`."""
    crypto = pytest.importorskip("cryptography", reason="TLS tests need the cryptography package")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return d / "cert.pem", d / "key.pem"

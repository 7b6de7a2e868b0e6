"""The embedded nats-server: its log goes to a capped file (no unread pipe), and a failed start says why."""

from __future__ import annotations

import socket

import nats
import pytest

from karez.embedded_nats import EmbeddedNats, EmbeddedNatsError


async def test_the_server_logs_to_a_file_in_its_store_dir() -> None:
    async with EmbeddedNats() as server:
        nc = await nats.connect(server.url)
        await nc.close()
        conf = (server.store_dir / "nats-server.conf").read_text()
        assert "logfile_size_limit" in conf
        assert "Server is ready" in server.log_file.read_text()


def test_a_start_that_fails_reports_the_servers_own_reason(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedNats(store_dir=tmp_path, port=taken.getsockname()[1], startup_timeout=10)
        with pytest.raises(EmbeddedNatsError) as failed:
            server.start()
    assert "address already in use" in str(failed.value).lower()

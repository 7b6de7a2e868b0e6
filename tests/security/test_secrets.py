"""Secrets never appear in `karez test`/`karez deploy` output, configuration or construction errors, or log lines."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from security_support import PASSWORD, USER

from karez.config_check import validate_config
from karez.embedded_nats import EmbeddedNats
from karez.nats_options import NatsOptions
from karez.plugins import all_plugins
from karez.runtime import Runtime, build_roles
from karez.settings import ConfigError, load_settings
from tiro.examples import example_dir
from tiro.mock.app import create_asgi
from tiro.mock.server import BackgroundServer
from tiro.mock.service import example_service

SECRET = "zz-Secret-4b7e19"
ENV_SECRET = "env-Secret-c0ffee"
EXAMPLE = example_dir("datahall")
PLUGINS = EXAMPLE / "karez"


def _karez(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "H7_SECRET": ENV_SECRET, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "karez.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _secret_config(base_url: str) -> dict:
    security = {"type": "basic", "username": "reader", "password": "@format {env[H7_SECRET]}"}
    return {
        "dispatchers": [{"type": "tiro_mock", "connector": "tiro_mock", "by": "path", "batch_size": 5, "interval": 10,
                         "base_url": base_url, "security": security}],
        "connectors": [
            {"type": "tiro_mock", "base_url": base_url, "by": "path", "security": security,
             "converter": ["tiro_preprocess"]},
            {"type": "tiro_mock", "name": "unreachable", "by": "path", "security": security,
             "base_url": f"http://reader:{SECRET}@127.0.0.1:9"},
        ],
        "converters": [{"type": "tiro_preprocess"}],
        "aggregators": [{"type": "tiro_validate", "category": "validation_data", "scenario": "scenario.yaml",
                         "uses": "use-srv1.yaml,use-srv2.yaml", "retention": 10,
                         "auth": {"username": "root", "password": SECRET}}],
    }  # fmt: skip


@pytest.fixture
def walkthrough(tmp_path: Path) -> Path:
    """The example scenario files and plugin stubs next to a config full of secrets."""
    for name in ("scenario.yaml", "use-srv1.yaml", "use-srv2.yaml", "test_assets.py"):
        (tmp_path / name).write_bytes((EXAMPLE / name).read_bytes())
    return tmp_path


def test_karez_test_verbose_never_prints_a_secret(walkthrough: Path) -> None:
    with BackgroundServer(create_asgi(example_service(seed=3))) as mock:
        (walkthrough / "karez.yaml").write_text(yaml.safe_dump(_secret_config(mock.url)))
        runs = [
            _karez("test", "-c", "karez.yaml", "-p", str(PLUGINS), "-d", "tiro_mock", "-n", "tiro_mock",
                   "-v", "tiro_preprocess", "--verbose", "--logging-level", "DEBUG", cwd=walkthrough),
            _karez("test", "-c", "karez.yaml", "-p", str(PLUGINS), "-d", "tiro_mock", "-n", "unreachable",
                   "--verbose", "--logging-level", "DEBUG", cwd=walkthrough),
            _karez("collect", "-c", "karez.yaml", "-p", str(PLUGINS), "--verbose", cwd=walkthrough),
        ]  # fmt: skip
    assert runs[0].returncode == 0, runs[0].stderr
    assert "DataHall" in runs[0].stdout  # it did run the chain
    for run in runs:
        for secret in (SECRET, ENV_SECRET):
            assert secret not in run.stdout and secret not in run.stderr, (run.args, run.stdout, run.stderr)


def test_karez_test_lists_log_level_option() -> None:
    """Guards the option the secret test relies on (a renamed option would make it vacuous)."""
    result = _karez("test", "--help", cwd=Path.cwd())
    assert "--logging-level" in result.stdout


def test_invalid_configs_report_errors_without_secrets(walkthrough: Path) -> None:
    config = _secret_config("http://127.0.0.1:9")
    config["aggregators"].append({"type": "no_such_type", "name": "bad.name", "password": SECRET})
    config["converters"].append({"type": "tiro_preprocess", "next": ["missing"], "token": SECRET})
    (walkthrough / "karez.yaml").write_text(yaml.safe_dump(config))
    run = _karez("deploy", "-c", "karez.yaml", "-p", str(PLUGINS), "-a", "nats://127.0.0.1:9", cwd=walkthrough)
    assert run.returncode == 2 and "no_such_type" in run.stderr
    assert SECRET not in run.stdout + run.stderr and ENV_SECRET not in run.stdout + run.stderr
    settings = load_settings([str(walkthrough / "karez.yaml")], environ={"H7_SECRET": ENV_SECRET})
    report = validate_config(settings, all_plugins(PLUGINS))
    assert report.errors and not any(SECRET in e or ENV_SECRET in e for e in report.errors + report.warnings)


def test_a_missing_secret_variable_is_named_not_shown(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text('connectors: [{type: x, password: "@format {env[H7_MISSING]}"}]\n')
    with pytest.raises(ConfigError) as failed:
        load_settings([str(tmp_path / "k.yaml")], environ={"H7_SECRET": ENV_SECRET})
    assert "H7_MISSING" in str(failed.value) and ENV_SECRET not in str(failed.value)


@pytest.mark.parametrize(
    "store",
    [
        f"influx+http://admin:{SECRET}@127.0.0.1:9?bogus=1",
        f"influx+http://127.0.0.1:9?token={SECRET}&bogus=1",
        f"influx+http://admin:{SECRET}@127.0.0.1:9",
        f"influx+http://127.0.0.1:9?token={SECRET}",
        f"nosuch+http://admin:{SECRET}@127.0.0.1:9",
    ],
)
def test_store_errors_hide_credentials(tmp_path: Path, store: str, caplog) -> None:
    """Bad options, unknown schemes and unreachable servers: the error names the store, never its secret."""
    (tmp_path / "plugins" / "aggregator").mkdir(parents=True)
    (tmp_path / "plugins" / "aggregator" / "tiro_store.py").write_text(
        "from tiro.plugins.karez import TiroStoreAggregator as Aggregator\n"
    )
    (tmp_path / "k.yaml").write_text(yaml.safe_dump({"aggregators": [{"type": "tiro_store", "store": store}]}))
    settings = load_settings([str(tmp_path / "k.yaml")], environ={})
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception) as failed:  # any clear refusal
        role = build_roles(settings, all_plugins(tmp_path / "plugins"))["aggregator"][0]
        role.open_stores()  # what the role does when it starts
    assert "127.0.0.1" in str(failed.value) or "nosuch" in str(failed.value), str(failed.value)
    assert SECRET not in str(failed.value) and SECRET not in caplog.text, str(failed.value)


async def test_runtime_logs_never_show_the_nats_password(tmp_path: Path, caplog) -> None:
    server = EmbeddedNats(store_dir=tmp_path / "js", user=USER, password=PASSWORD)
    await asyncio.to_thread(server.start)
    (tmp_path / "k.yaml").write_text(yaml.safe_dump({"converters": [{"type": "echo", "name": "sec_log"}]}))
    roles = build_roles(load_settings([str(tmp_path / "k.yaml")], environ={}), all_plugins(None))
    runtime = Runtime(roles, NatsOptions.from_address(server.url, reconnect_wait=0.05), metrics_interval=0)
    try:
        with caplog.at_level(logging.DEBUG):
            await runtime.start()
            runtime.reconnected.clear()
            await asyncio.to_thread(server.restart)  # disconnect and reconnect: both are logged
            await asyncio.wait_for(runtime.reconnected.wait(), timeout=30)
            await runtime.shutdown()
    finally:
        await asyncio.to_thread(server.close)
    assert "Reconnected to NATS at 127.0.0.1" in caplog.text
    assert PASSWORD not in caplog.text
    assert PASSWORD not in NatsOptions.from_address(server.url).display()

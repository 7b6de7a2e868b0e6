"""Tasks: start and stop a group of Karez roles (karez.runtime) inside the flow's event loop."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from karez.config_check import validate_config
from karez.leader import LeaseOptions
from karez.nats_options import NatsOptions
from karez.plugins import KINDS, all_plugins
from karez.runtime import Runtime, build_roles
from karez.settings import ConfigError, load_settings


@dataclass
class RoleGroup:
    """Running roles of one configuration, and the restart counts already reported."""

    runtime: Runtime
    reported_restarts: dict[str, int] = field(default_factory=dict)

    def role_counts(self) -> dict[str, int]:
        """How many roles of each kind run."""
        return {kind: len(roles) for kind, roles in self.runtime.roles.items() if roles}

    def stats(self) -> list[dict[str, Any]]:
        """Counters of every role (kind, name, received, published, errors, dropped, restarts)."""
        return self.runtime.stats_snapshot()

    def new_restarts(self) -> list[dict[str, Any]]:
        """Roles restarted since the last call (each with its counters), so each crash is reported once."""
        fresh = []
        for row in self.stats():
            key = f"{row['kind']}.{row['name']}"
            if row["restarts"] > self.reported_restarts.get(key, 0):
                self.reported_restarts[key] = row["restarts"]
                fresh.append(row)
        return fresh


def load_role_settings(config_files: Sequence[str], settings: Mapping[str, str] | None = None) -> Mapping[str, Any]:
    """Karez settings from config files in order (KAREZ_* environment overrides apply, as in `karez deploy`);
    `settings`: variables added to the environment the files' `@format {env[...]}` tokens read."""
    if not config_files:
        raise ConfigError("no Karez config file given")
    return load_settings(list(config_files), environ={**os.environ, **(settings or {})})


def build_group(
    settings: Mapping[str, Any],
    plugin_dir: str | None,
    nats_url: str,
    *,
    durable: bool = False,
    kinds: Sequence[str] = KINDS,
    metrics_interval: float = 10.0,
    extra_plugins: Mapping[str, Mapping[str, type]] | None = None,
    replicas: int | None = None,
    lease: LeaseOptions | None = None,
) -> RoleGroup:
    """Validate the configuration against the plugins and create (not start) its roles; errors name file:line.

    `replicas`: of the JetStream streams created (None: detected from the cluster); `lease`: run dispatchers and
    one-worker roles only while this process holds their lease, so that several flow runs on several workers can
    stand by for each other."""
    plugins = all_plugins(plugin_dir)
    for kind, table in (extra_plugins or {}).items():
        plugins[kind] = {**table, **plugins[kind]}  # the plugin directory wins, as for built-ins
    report = validate_config(settings, plugins)
    if not report.ok:
        raise ConfigError("invalid Karez configuration:\n  " + "\n  ".join(report.errors))
    roles = build_roles(settings, plugins, tuple(kinds), nats_url)
    options = NatsOptions.from_environment(nats_url)
    runtime = Runtime(
        roles, options, durable=durable, metrics_interval=metrics_interval, replicas=replicas, lease=lease
    )
    return RoleGroup(runtime)


@task(name="start-role-group", cache_policy=NO_CACHE)
async def start_role_group(
    settings: Mapping[str, Any],
    plugin_dir: str | None,
    nats_url: str,
    durable: bool = False,
    kinds: list[str] | None = None,
    extra_plugins: Mapping[str, Mapping[str, type]] | None = None,
    replicas: int | None = None,
    lease: LeaseOptions | None = None,
) -> RoleGroup:
    """Start the roles (aggregators first, dispatchers last), each subscribed before anything publishes to it."""
    group = build_group(
        settings,
        plugin_dir,
        nats_url,
        durable=durable,
        kinds=tuple(kinds or KINDS),
        extra_plugins=extra_plugins,
        replicas=replicas,
        lease=lease,
    )
    await group.runtime.start()
    return group


@task(name="stop-role-group", cache_policy=NO_CACHE)
async def stop_role_group(group: RoleGroup) -> list[dict[str, Any]]:
    """Drain the roles (upstream first, nothing received is lost) and return their final counters."""
    await group.runtime.shutdown()
    return group.stats()

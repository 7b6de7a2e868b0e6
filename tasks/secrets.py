"""Store secrets (InfluxDB token, ArangoDB password): environment variables first, else Prefect Secret blocks."""

from __future__ import annotations

import os

from prefect import task
from prefect.cache_policies import NO_CACHE

# environment variable the stores read -> Prefect Secret block that may hold it
SECRET_BLOCKS = {"TIRO_INFLUX_TOKEN": "tiro-influx-token", "TIRO_ARANGO_PASSWORD": "tiro-arango-password"}


def secret_from_block(block_name: str) -> str | None:
    """The value of a Prefect Secret block, or None when there is no such block."""
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(block_name, _sync=True).get()  # type: ignore[call-arg, union-attr]  # Prefect's sync form
    except (ValueError, RuntimeError):  # no such block (or no API to ask)
        return None
    return str(value) if value else None


@task(name="load-store-secrets", cache_policy=NO_CACHE)
def load_store_secrets() -> list[str]:
    """Put Secret-block values into the stores' environment variables where unset; the names set (never values)."""
    loaded = []
    for env_name, block_name in SECRET_BLOCKS.items():
        if os.environ.get(env_name):
            continue
        value = secret_from_block(block_name)
        if value:
            os.environ[env_name] = value
            loaded.append(env_name)
    return loaded

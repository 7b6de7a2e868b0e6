"""Every NATS subject and JetStream stream name that Karez uses (the wire format of Karez 0.11, plus its extensions).

`karez.connector.<name>` and `karez.converter.<name>` address a role; `karez.<category>.<publisher>` carries items to
the aggregators of a category (`telemetry` by default: Telegraf reads `karez.telemetry.>`); `karez.dlq.<kind>.<name>`
holds dead letters; `karez.metrics.<kind>.<name>` per-role counters.
"""

from __future__ import annotations

PREFIX = "karez"
DEFAULT_CATEGORY = "telemetry"
CONVERTER_PREFIX = f"{PREFIX}.converter."
DLQ_WILDCARD = f"{PREFIX}.dlq.>"


def role_subject(kind: str, name: str) -> str:
    """The subject a role of `kind` called `name` listens on (`karez.connector.x`, `karez.converter.y`)."""
    return f"{PREFIX}.{kind}.{name}"


def connector_subject(name: str) -> str:
    """The subject of the connector called `name`."""
    return f"{PREFIX}.connector.{name}"


def converter_subject(name: str) -> str:
    """The subject of the converter called `name`."""
    return f"{CONVERTER_PREFIX}{name}"


def category_subject(category: str | None, publisher: str) -> str:
    """Where `publisher` sends items of `category` (the default category when None or empty) for the aggregators."""
    return f"{PREFIX}.{category or DEFAULT_CATEGORY}.{publisher}"


def category_wildcard(category: str) -> str:
    """Every subject of a category: what its aggregators subscribe to."""
    return f"{PREFIX}.{category}.>"


def converter_name(subject: str) -> str | None:
    """The converter a subject addresses, or None when it addresses no converter."""
    return subject.removeprefix(CONVERTER_PREFIX) if subject.startswith(CONVERTER_PREFIX) else None


def dlq_subject(kind: str, name: str) -> str:
    """Where the role `kind`/`name` sends its dead letters."""
    return f"{PREFIX}.dlq.{kind}.{name}"


def metrics_subject(kind: str, name: str) -> str:
    """Where the role `kind`/`name` publishes its counters."""
    return f"{PREFIX}.metrics.{kind}.{name}"

"""A real nats-server for plugin tests."""

from __future__ import annotations

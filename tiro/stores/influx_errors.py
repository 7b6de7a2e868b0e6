"""Errors of the InfluxDB backend and the retry policy for its requests (429 and 5xx are worth retrying)."""

from __future__ import annotations

import random
from typing import Any

from karez.errors import DataError, RetryableError
from tiro.stores.base import StoreError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class InfluxError(StoreError):
    """An InfluxDB request failed; the text names the server (without secrets) and the cause."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InfluxUnavailable(InfluxError, RetryableError):
    """The server could not take the data for now (unreachable, 429, 5xx after the retries): deliver it again later."""


class InfluxRejectedData(InfluxError, DataError):
    """The server refused the data itself (HTTP 400/413/422): retrying the same lines cannot succeed."""


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an influxdb-client ApiException (None for connection errors)."""
    status = getattr(exc, "status", None)
    return int(status) if isinstance(status, int) else None


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (`Retry-After`), when it said so."""
    headers: Any = getattr(exc, "headers", None)
    if not headers:
        return None
    try:
        value = headers.get("Retry-After")
    except AttributeError:
        return None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def backoff_delay(attempt: int, *, base: float = 0.2, cap: float = 10.0, retry_after: float | None = None) -> float:
    """Delay before retry number `attempt` (0-based): full-jitter exponential backoff, or the server's Retry-After."""
    if retry_after is not None:
        return min(retry_after, 60.0)
    return _JITTER.uniform(0, min(cap, base * (2**attempt)))


# a generator of its own: drawing jitter from the global one (in influx_writer's worker thread) would move the state
# that seeded mock output and hypothesis rely on in the same process
_JITTER = random.Random()


def describe(exc: BaseException) -> str:
    """A short cause: status, reason and the start of the server's message (not the library's header dump)."""
    status = status_of(exc)
    if status is None:
        return f"{type(exc).__name__}: {exc}"[:300]
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    reason = getattr(exc, "reason", "") or ""
    text = f"HTTP {status} {reason}".strip()
    if body:
        text += f": {str(body).strip()[:200]}"
    return text

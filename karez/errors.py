"""The errors a plugin raises to tell durable delivery what a failure means, and the one place that reads them."""

from __future__ import annotations

from nats.errors import ConnectionClosedError, NoRespondersError, StaleConnectionError
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

_NATS_UNAVAILABLE = (
    TimeoutError,  # nats-py's TimeoutError, and karez.durable's for a PubAck that never came
    NoRespondersError,
    NoStreamResponseError,
    ServiceUnavailableError,
    ConnectionClosedError,
    StaleConnectionError,
)


class DataError(Exception):
    """The message itself is bad: in durable mode it is dead-lettered at its first delivery, never redelivered."""


class RetryableError(Exception):
    """A destination or source cannot be reached, the message is fine: redelivered with backoff, never dead-lettered."""


def is_data_error(error: BaseException) -> bool:
    """True for a DataError (or an exception carrying `data_error = True`, the marker of earlier plugins)."""
    return isinstance(error, DataError) or getattr(error, "data_error", False) is True


def is_retryable(error: BaseException) -> bool:
    """True for a RetryableError (or an exception carrying `retryable = True`, the marker of earlier plugins), and
    for NATS being unreachable for a while (`is_nats_unavailable`)."""
    return isinstance(error, RetryableError) or getattr(error, "retryable", False) is True or is_nats_unavailable(error)


def is_nats_unavailable(error: BaseException) -> bool:
    """NATS could not take or confirm a publish now: no PubAck in time, no responders, a stream without a leader
    while a cluster elects one, a connection being replaced. The message is fine and must wait, not be dead-lettered:
    on a cluster a lost node makes every publish to its streams fail for the seconds an election takes."""
    return isinstance(error, _NATS_UNAVAILABLE)

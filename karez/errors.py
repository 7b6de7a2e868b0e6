"""The errors a plugin raises to tell durable delivery what a failure means, and the one place that reads them."""

from __future__ import annotations


class DataError(Exception):
    """The message itself is bad: in durable mode it is dead-lettered at its first delivery, never redelivered."""


class RetryableError(Exception):
    """A destination or source cannot be reached, the message is fine: redelivered with backoff, never dead-lettered."""


def is_data_error(error: BaseException) -> bool:
    """True for a DataError (or an exception carrying `data_error = True`, the marker of earlier plugins)."""
    return isinstance(error, DataError) or getattr(error, "data_error", False) is True


def is_retryable(error: BaseException) -> bool:
    """True for a RetryableError (or an exception carrying `retryable = True`, the marker of earlier plugins)."""
    return isinstance(error, RetryableError) or getattr(error, "retryable", False) is True

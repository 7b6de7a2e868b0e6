"""What a plugin's exception tells durable delivery: the classes, and the attribute markers of earlier plugins."""

from __future__ import annotations

from karez.errors import DataError, RetryableError, is_data_error, is_retryable


class LegacyDown(ConnectionError):
    retryable = True


class LegacyBad(ValueError):
    data_error = True


def test_the_classes_and_the_markers_mean_the_same():
    assert is_data_error(DataError("bad")) and not is_retryable(DataError("bad"))
    assert is_retryable(RetryableError("down")) and not is_data_error(RetryableError("down"))
    assert is_retryable(LegacyDown()) and is_data_error(LegacyBad())
    assert not is_retryable(ValueError("x")) and not is_data_error(ValueError("x"))

"""Dispatchers: timers that send task batches to connectors."""

from karez.dispatcher.base import DispatcherBase

__all__ = ["DispatcherBase"]

"""Tiro 0.13 compatibility: `from tiro.core import Entity, Scenario` (re-exports, kept import-light)."""

from tiro_models.compile import Scenario
from tiro_models.library.python_api import Entity

__all__ = ["Entity", "Scenario"]

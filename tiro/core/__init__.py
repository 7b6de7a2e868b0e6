"""Tiro 0.13 compatibility: `from tiro.core import Entity` for asset libraries (a re-export, kept import-light)."""

from tiro_models.library.python_api import Entity

__all__ = ["Entity"]

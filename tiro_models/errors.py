"""Errors raised by tiro_models: every one names the file (and line) or the data-point path it is about."""

from __future__ import annotations


class TiroError(Exception):
    """Base of every error tiro_models raises on bad input."""


class InputError(TiroError):
    """Bad input in a file: carries the file name and, where known, the 1-based line."""

    def __init__(
        self, message: str, file: str | None = None, line: int | None = None, *, unreadable: bool = False
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.unreadable = unreadable  # the file could not be read or parsed: bad input, not a finding about content
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        return f"{where}{self.message}"


class ScenarioError(InputError):
    """The scenario YAML is malformed or refers to something that does not exist."""


class UsesError(InputError):
    """A uses YAML asks for a child or point that the scenario does not have."""


class LibraryError(InputError):
    """An asset library is missing, fails to import, or declares an invalid data point."""


class SnapshotError(InputError):
    """A snapshot (JSON input to validation or records) does not have the expected shape."""

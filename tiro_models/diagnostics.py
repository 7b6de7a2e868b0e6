"""Problems found while loading: raised at once when compiling, collected as a list when linting (`check`)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: severity (error or warning), message, and the file and 1-based line it is about."""

    severity: str
    message: str
    file: str | None = None
    line: int | None = None
    unreadable: bool = False  # the file could not be read or parsed (a CLI reports bad input, not a lint finding)

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        return f"{where}{self.severity}: {self.message}"


class Reporter:
    """Receives problems: `collect=False` raises errors and appends warnings as text; `collect=True` keeps all."""

    def __init__(self, *, collect: bool = False, warnings: list[str] | None = None) -> None:
        self.collect = collect
        self.warnings = warnings
        self.diagnostics: list[Diagnostic] = []

    def error(self, kind: type[InputError], message: str, file: str | None, line: int | None) -> None:
        """Report an error: raise `kind` now, or record it when collecting."""
        if not self.collect:
            raise kind(message, file, line)
        self.diagnostics.append(Diagnostic(ERROR, message, file, line))

    def warning(self, message: str, file: str | None, line: int | None) -> None:
        """Report a warning."""
        diagnostic = Diagnostic(WARNING, message, file, line)
        self.diagnostics.append(diagnostic)
        if self.warnings is not None:
            self.warnings.append(str(InputError(message, file, line)))

    def raised(self, exc: InputError) -> None:
        """Report an error that was already raised as an exception (re-raised unless collecting)."""
        if not self.collect:
            raise exc
        self.diagnostics.append(Diagnostic(ERROR, exc.message, exc.file, exc.line, exc.unreadable))

"""Validation results: one error (full path, message, type, upstream loc) and the result of one validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NO_VALUE: Any = object()  # the error has no offending value (a missing point, an unknown asset)
_VALUE_TEXT_LIMIT = 80  # a whole object sent where a number belongs is shown shortened, not dumped


def shown_value(value: Any) -> Any:
    """A JSON-safe form of an offending value for reports: scalars as they are, anything else as short text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:  # a lone surrogate cannot be written to a UTF-8 log or report
                value = ascii(value)
        return value if len(value) <= _VALUE_TEXT_LIMIT else value[:_VALUE_TEXT_LIMIT] + "…"
    text = repr(value)
    return text if len(text) <= _VALUE_TEXT_LIMIT else text[:_VALUE_TEXT_LIMIT] + "…"


@dataclass(frozen=True, slots=True)
class ValidationError:
    """One problem found: full dotted `path`, human-readable `msg`, `type`, upstream-style `loc` and `ctx`, plus the
    offending `value` (NO_VALUE when there is none) and the `allowed` range or constraint in words (None if unknown)."""

    path: str
    msg: str
    type: str
    loc: tuple[str, ...]
    ctx: dict[str, Any] | None = None
    value: Any = NO_VALUE
    allowed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `{path, msg, type}` form of the `errors` list."""
        return {"path": self.path, "msg": self.msg, "type": self.type}

    def detailed(self) -> dict[str, Any]:
        """`{path, msg, type}` plus `value` (the offending value, when there is one) and `allowed` (when known)."""
        out = self.to_dict()
        if self.value is not NO_VALUE:
            out["value"] = shown_value(self.value)
        if self.allowed is not None:
            out["allowed"] = self.allowed
        return out

    def upstream(self) -> dict[str, Any]:
        """The upstream pydantic-like form `{loc, msg, type, ctx?}` of the `exception` list."""
        kind = "value_error.missing" if self.type == "missing" else self.type
        out: dict[str, Any] = {"loc": list(self.loc), "msg": self.msg, "type": kind}
        if self.ctx:
            out["ctx"] = self.ctx
        return out


@dataclass(slots=True)
class ValidationResult:
    """The outcome of one validation: period, validity, errors, counts and completeness."""

    start: datetime
    end: datetime
    errors: list[ValidationError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    strict: bool = False

    @property
    def valid(self) -> bool:
        """True when no error was found."""
        return not self.errors

    @property
    def completeness(self) -> float:
        """Share (0–1) of expected required points that were received and valid."""
        expected = self.counts.get("expected", 0)
        if expected <= 0:
            return 1.0
        return max(0.0, (self.counts.get("received", 0) - self.counts.get("invalid", 0)) / expected)

    def to_dict(self) -> dict[str, Any]:
        """Upstream fields `{start, end, valid, exception}` plus `errors` (`{path, msg, type}`, with `value` and
        `allowed` when known), `counts` and `completeness`."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "valid": self.valid,
            "exception": None if self.valid else [e.upstream() for e in self.errors],
            "errors": [e.detailed() for e in self.errors],
            "counts": dict(self.counts),
            "completeness": self.completeness,
        }

    def __str__(self) -> str:
        head = f"Validation Period: {self.start.isoformat(' ')} -- {self.end.isoformat(' ')}"
        if self.valid:
            return f"{head}\nSuccessful!"
        lines = [f"{head}\nFailed!", f"{len(self.errors)} validation error(s)"]
        lines += [f"{e.path}\n  {e.msg} (type={e.type})" for e in self.errors]
        return "\n".join(lines)

"""Validation results: one error (full path, message, type, upstream loc) and the result of one validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ValidationError:
    """One problem found: full dotted `path`, human-readable `msg`, `type`, upstream-style `loc` and `ctx`."""

    path: str
    msg: str
    type: str
    loc: tuple[str, ...]
    ctx: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `{path, msg, type}` form of the `errors` list."""
        return {"path": self.path, "msg": self.msg, "type": self.type}

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
        """Upstream fields `{start, end, valid, exception}` plus `errors`, `counts` and `completeness`."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "valid": self.valid,
            "exception": None if self.valid else [e.upstream() for e in self.errors],
            "errors": [e.to_dict() for e in self.errors],
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

"""Validation against a JSON Schema file (the aggregator's `schema` mode), reporting every error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jsonschema.validators import validator_for

from tiro.plugins.karez.windows import Check
from tiro_models.records import nest
from tiro_models.validate import ValidationError, ValidationResult


def schema_check(schema: dict[str, Any]) -> Check:
    """A Check that validates the nested snapshot with `schema` (all errors, not only the first as upstream)."""
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    def check(flat: dict[str, Any], start: datetime, end: datetime) -> ValidationResult:
        errors = []
        for error in validator.iter_errors(nest(flat)):
            loc = tuple(str(part) for part in error.absolute_path)
            kind = "missing" if error.validator == "required" else f"schema.{error.validator}"
            errors.append(ValidationError(path=".".join(loc), msg=error.message, type=kind, loc=loc))
        counts = {"received": len(flat), "invalid": len(errors)}
        return ValidationResult(start=start, end=end, errors=errors, counts=counts)

    return check

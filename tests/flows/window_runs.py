"""Run validate-window and read its report whatever the verdict (an invalid window's run raises when called)."""

from __future__ import annotations

from typing import Any

from tiro_prefect.flows.validation import validate_window, window_report


async def validated(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The report of one validate-window run, valid or invalid."""
    return await window_report(await validate_window(*args, return_state=True, **kwargs))

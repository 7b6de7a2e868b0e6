"""How a validation window reads to people: its bounds in words, its verdict, completeness as bars and as a chart.

Shared by the Prefect report (artifacts, state, event) and `tiro validate history`, so both say the same thing.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from tiro.stores.window_results import WindowResult

__all__ = [
    "WindowReport",
    "completeness_bar",
    "completeness_svg",
    "scenario_label",
    "sparkline",
    "svg_data_uri",
    "verdict",
    "window_label",
]


class WindowReport(TypedDict):
    """The report of one validation window, as the flow returns, persists, logs and publishes it (plain JSON)."""

    start: str  # ISO 8601, UTC
    end: str
    valid: bool
    exception: list[dict[str, Any]] | None  # upstream Tiro's pydantic-like errors; None when valid
    errors: list[dict[str, Any]]  # {path, msg, type} plus value and allowed when known
    counts: dict[str, int]  # expected, received, missing, invalid, unknown
    completeness: float
    strict: bool
    empty: bool  # no message at all was retained in the window
    messages: int
    items: int
    collection_size: int  # data points in the validated snapshot
    late: int  # samples of this window that arrived after its allowed lateness
    allowed_lateness: float
    rejected: list[str]  # the first messages that could not be read, each named


_SPARKS = "▁▂▃▄▅▆▇█"
_VALID_COLOUR = "#2e9e5b"
_INVALID_COLOUR = "#d64545"


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def window_label(start: Any, end: Any) -> str:
    """`2026-12-05 10:30:22–10:30:52 UTC` (whole seconds; both dates when the window spans midnight)."""
    first, last = _moment(start), _moment(end)
    tail = last.strftime("%H:%M:%S") if first.date() == last.date() else last.strftime("%Y-%m-%d %H:%M:%S")
    return f"{first.strftime('%Y-%m-%d %H:%M:%S')}–{tail} UTC"


def verdict(valid: bool) -> str:
    """`valid` or `INVALID` (upper case so that it stands out in a list of titles)."""
    return "valid" if valid else "INVALID"


def scenario_label(scenario: str) -> str:
    """A short name of a scenario file: its folder for a `scenario.yaml`, else the file's stem (`datahall`)."""
    path = Path(scenario)
    name = path.parent.name if path.stem == "scenario" and path.parent.name else path.stem
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower()) or "scenario"


def completeness_bar(fraction: float, width: int = 10) -> str:
    """A bar of block characters, `█████████░` for 0.9."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


def sparkline(fractions: Sequence[float]) -> str:
    """One block character per value in [0, 1], lowest `▁` to full `█`."""
    top = len(_SPARKS) - 1
    return "".join(_SPARKS[round(max(0.0, min(1.0, f)) * top)] for f in fractions)


def completeness_svg(results: Sequence[WindowResult], width: int = 640, height: int = 160) -> str:
    """A bar chart of completeness per window (green valid, red invalid) with 0/50/100 % guides, as SVG text."""
    left, right, top, bottom = 36, 8, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    for share in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - share)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#cccccc"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555555">{share:.0%}</text>')
    if results:
        step = plot_w / len(results)
        bar = max(1.0, step * 0.8)
        for i, result in enumerate(results):
            h = max(plot_h * max(0.0, min(1.0, result.completeness)), 3.0)  # an empty window still shows
            x = left + i * step + (step - bar) / 2
            colour = _VALID_COLOUR if result.valid else _INVALID_COLOUR
            title = f"{window_label(result.start, result.end)}: {verdict(result.valid)} {result.completeness:.1%}"
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="{colour}"><title>{title}</title></rect>'
            )
        first, last = results[0], results[-1]
        parts.append(f'<text x="{left}" y="{height - 6}" fill="#555555">{window_label(first.start, first.end)}</text>')
        parts.append(
            f'<text x="{width - right}" y="{height - 6}" text-anchor="end" fill="#555555">'
            f"{_moment(last.end).strftime('%H:%M:%S')} UTC</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_data_uri(svg: str) -> str:
    """The SVG as a base64 `data:` URI: the Prefect UI renders such an image in markdown (it drops inline <svg>)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()

"""Which timestamp kernel a column takes: numpy's (`tiro_models.utc_text`) from the length that repays its fixed cost
of about 50 µs per call, the caller's Python one below it (`bench/utc_text.py` measures the crossover).

numpy is imported with the first long column, not with this module, so the CLIs that load the model start without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["SECONDS_FROM", "TEXTS_FROM", "numpy_seconds", "numpy_texts"]

TEXTS_FROM = 160  # moments: writing crosses over at about 150 (bench/utc_text.py `crossover`)
SECONDS_FROM = 768  # stamps: reading crosses over at about 600


def numpy_texts(moments: Sequence[float]) -> list[str] | None:
    """ISO texts of epoch-seconds moments from numpy (`utc_text.iso_texts`); None for a column shorter than
    `TEXTS_FROM` or one the kernel declines (the caller writes those with `datetime`)."""
    if len(moments) < TEXTS_FROM:
        return None
    from tiro_models.utc_text import iso_texts

    return iso_texts(moments)


def numpy_seconds(stamps: Sequence[Any]) -> list[float] | None:
    """Epoch seconds of ISO texts from numpy (`utc_text.iso_seconds`); None for a column shorter than
    `SECONDS_FROM` or one not all in `datetime.isoformat()`'s UTC form (the caller reads those with `datetime`)."""
    if len(stamps) < SECONDS_FROM:
        return None
    from tiro_models.utc_text import iso_seconds

    return iso_seconds(stamps)

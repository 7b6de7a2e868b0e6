"""Tiro 0.13's `tiro.utils` helpers: unit constants and ranged telemetry shortcuts."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import confloat, conint

from .python_api import Telemetry


class Unit:
    """Unit strings exactly as Tiro 0.13 spells them."""

    DEGREE_C = "degree Celsius"
    METER = "m"
    CUBIC_METER = "m^3"
    WATT = "W"
    KILO_WATT_HOUR = "kWh"
    LITRE_PER_HOUR = "L/hr"
    PSI = "psi"
    HZ = "Hz"
    WATT_PER_SQUARE_METER = "W/m^2"
    WATT_PER_SQUARE_FOOT = "W/ft^2"
    TON = "ton"


class _LazyFaker:
    """A `faker.Faker()` created on first use, so importing `tiro.utils` does not need faker installed."""

    _faker: Any = None

    def __getattr__(self, name: str) -> Any:
        if _LazyFaker._faker is None:
            from faker import Faker

            _LazyFaker._faker = Faker()
        return getattr(_LazyFaker._faker, name)


default_faker: Any = _LazyFaker()


def RangedFloatTelemetry(
    ge: float,
    le: float,
    unit: str | None = None,
    right_digits: int = 2,
    faker: Any = default_faker,
) -> Telemetry:
    """A float telemetry in [ge, le]; mock values get `right_digits` decimals."""
    point_faker = None
    if faker is not default_faker:
        # a caller's own Faker: keep upstream's behaviour of drawing from its pyfloat
        point_faker = functools.partial(faker.pyfloat, right_digits=right_digits, min_value=ge, max_value=le)
    return Telemetry(confloat(ge=ge, le=le), unit, faker=point_faker, decimals=right_digits)


def RangedIntTelemetry(
    ge: int,
    le: int,
    unit: str | None = None,
    faker: Any = default_faker,
) -> Telemetry:
    """An int telemetry in [ge, le]."""
    point_faker = None
    if faker is not default_faker:
        point_faker = functools.partial(faker.pyint, min_value=ge, max_value=le)
    return Telemetry(conint(ge=ge, le=le), unit, faker=point_faker)

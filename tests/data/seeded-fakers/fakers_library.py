"""An asset library written as Tiro 0.13 users write fakers: the `random` module, a module-level Faker, numpy."""

import random
from datetime import timedelta

from faker import Faker
from pydantic import confloat, conint

from tiro.core import Entity
from tiro.core.model import Attribute, Telemetry
from tiro.utils import RangedFloatTelemetry, Unit

try:  # numpy is optional: the library draws from its global generator only where it is installed
    import numpy
except ImportError:
    numpy = None

fake = Faker()  # created at import time, before any seed is known
own = Faker()
own.seed_instance(1234)  # a user instance with its own generator: reseeded and restored as well
jitter = random.Random()  # a user generator seeded from the OS


def _noisy_label() -> str:
    return f"{fake.word()}-{random.randint(0, 99)}"


class Hall(Entity):
    Temperature: Telemetry(confloat(ge=0, le=100), "°C", faker=lambda: round(random.uniform(0, 100), 1))
    Humidity: Telemetry(conint(ge=0, le=100), "%", faker=fake.pyint)
    Power: RangedFloatTelemetry(0, 1000, Unit.WATT)
    Site: Attribute(str, faker=fake.city)


class Rack(Entity):
    Front: Telemetry(float, "°C", faker=lambda: fake.pyfloat(right_digits=2, min_value=15, max_value=35))
    Back: Telemetry(float, "°C", faker=lambda: random.gauss(30, 5), time_var=timedelta(seconds=30))
    Load: Telemetry(conint(ge=0, le=100), "%", faker=lambda: own.pyint(0, 100))
    Wobble: Telemetry(float, faker=lambda: jitter.random())
    if numpy is not None:
        Drift: Telemetry(float, faker=lambda: float(numpy.random.normal()))
    Label: Attribute(str, faker=_noisy_label)
    Serial: Attribute(str, faker=lambda: fake.bothify("SRV-####"))

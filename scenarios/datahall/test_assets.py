"""Asset library of the data-hall example, written exactly as a Tiro 0.13 user would write it."""

from datetime import timedelta
from typing import Literal

from faker import Faker
from pydantic import confloat

from tiro.core import Entity
from tiro.core.model import Attribute, Telemetry
from tiro.utils import RangedFloatTelemetry, Unit

faker = Faker()

temperature = confloat(ge=0, le=50)


class PowerConsumer(Entity):
    ActivePower: RangedFloatTelemetry(0, 1000, Unit.WATT)


class DataHall(Entity):
    Temperature: Telemetry(temperature, "°C", faker=lambda: faker.pyfloat(right_digits=2, min_value=15, max_value=35))
    Site: Attribute(str, faker=faker.city) = "Singapore"


class Rack(PowerConsumer):
    ChilledWaterSupplyTemperature: RangedFloatTelemetry(5, 20, "°C")
    ChilledWaterReturnTemperature: RangedFloatTelemetry(10, 30, "°C")
    FrontTemperature: RangedFloatTelemetry(15, 40, "°C")
    BackTemperature: RangedFloatTelemetry(15, 50, "°C")


class Server(PowerConsumer):
    FlowRate: RangedFloatTelemetry(0, 1000, Unit.LITRE_PER_HOUR)
    CPUTemperature: Telemetry(confloat(ge=0, le=100), "°C", time_var=timedelta(seconds=30))
    ModelName: Attribute(str, faker=lambda: faker.bothify("SRV-####"))


class CRAC(PowerConsumer):
    SupplyTemperature: RangedFloatTelemetry(10, 25, "°C")
    ReturnTemperature: RangedFloatTelemetry(15, 40, "°C")
    FanSpeed: RangedFloatTelemetry(0, 100, "%", right_digits=1)
    Model: Attribute(str, faker=lambda: faker.bothify("CRAC-??##"))
    Mode: Attribute(Literal["cooling", "standby", "fault"])

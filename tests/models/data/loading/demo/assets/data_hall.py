"""Demo asset types of a data hall, as Tiro 0.13's demo/assets/data_hall.py described them."""

from faker import Faker
from pydantic import confloat, conint

from tiro.core import Entity
from tiro.core.model import Attribute, Telemetry

faker = Faker()

temperature_type = confloat(ge=0, le=50)


def temperature_faker() -> float:
    """A plausible temperature in °C."""
    return faker.pyfloat(right_digits=2, min_value=0, max_value=50)


class Server(Entity):
    CPUTemperature: Telemetry(temperature_type, "°C", faker=temperature_faker) = 0
    MemoryTemperature: Telemetry(temperature_type, "°C", faker=temperature_faker)
    FanSpeed: Telemetry(conint(ge=0, le=10000), "rpm", faker=lambda: faker.pyint(0, 10000))
    ModelName: Attribute(str, faker=faker.company)


class Rack(Entity):
    FrontTemperature: Telemetry(temperature_type, "°C", faker=temperature_faker)
    BackTemperature: Telemetry(temperature_type, "°C", faker=temperature_faker)


class Room(Entity):
    Temperature: Telemetry(temperature_type, "°C", faker=temperature_faker)
    Site: Attribute(str, faker=faker.company)


class PDU(Entity):
    ActivePower: Telemetry(confloat(ge=0, le=10000), "W", faker=lambda: faker.pyfloat(min_value=0, max_value=10000))


class Sensor(Entity):
    Temperature: Telemetry(temperature_type, "°C", faker=temperature_faker)
    Humidity: Telemetry(confloat(ge=0, le=100), "%", faker=lambda: faker.pyfloat(min_value=0, max_value=100))


class UPS(Entity):
    BatteryLevel: Telemetry(confloat(ge=0, le=100), "%", faker=lambda: faker.pyfloat(min_value=0, max_value=100))

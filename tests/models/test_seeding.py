"""Seeded user fakers (issue 14 item 5): reproducible under a seed, generators restored, untouched without a seed."""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime
from functools import partial

import faker as faker_package
import pytest
from faker import Faker

sys.path.insert(0, os.path.dirname(__file__))

from _h2b_factory import make_model, point

from tiro_models.instances import instantiate
from tiro_models.mock import Mocker
from tiro_models.seeding import SeededDraws, reachable_generators

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
fake = Faker()  # module level, created before any seed, as asset libraries do
own = Faker()
own.seed_instance(99)
mine = random.Random()


def _shared_faker_random() -> random.Random:
    return faker_package.generator.random


def _model(**fakers):
    points = {name: point("Telemetry", "any", faker=faker) for name, faker in fakers.items()}
    return make_model({"Hall": {"number": (3, 3), "points": points}})


def _values(model, seed: int | None, rounds: int = 2) -> list[dict[str, object]]:
    mocker = Mocker(instantiate(model, seed=1), seed=seed)
    return [{path: dp["value"] for path, dp in mocker.flat(now=NOW).items()} for _ in range(rounds)]


def _library_style_model():
    return _model(
        Uniform=lambda: round(random.uniform(0, 100), 1),
        Pyint=fake.pyint,
        Pyfloat=lambda: fake.pyfloat(right_digits=2, min_value=15, max_value=35),
        Own=lambda: own.pyint(0, 1000),
        Mine=mine.random,
        Partial=partial(random.randint, 0, 10**6),
    )


def test_same_seed_gives_the_same_values_whatever_ran_before() -> None:
    model = _library_style_model()
    first = _values(model, seed=7)
    random.random(), fake.pyint(), own.pyint(), mine.random()  # the process moves on between the two runs
    again = _values(model, seed=7)
    assert first == again
    assert first[0] != first[1], "successive rounds must not repeat"
    assert _values(model, seed=8) != first


def test_a_seeded_run_puts_every_generator_back_as_it_was() -> None:
    generators = [random._inst, _shared_faker_random(), own.factories[0].random, mine]  # type: ignore[attr-defined]
    before = [g.getstate() for g in generators]
    _values(_library_style_model(), seed=7)
    assert [g.getstate() for g in generators] == before


def test_an_unseeded_run_draws_from_the_global_random_as_the_users_own_calls_would() -> None:
    calls = []

    def draw() -> float:
        calls.append(1)
        return random.random()

    random.seed(123)
    Mocker(instantiate(_model(A=draw, B=draw), seed=1)).flat(now=NOW)
    after_mocking = random.getstate()
    assert calls, "the fakers were called"
    random.seed(123)
    for _ in calls:  # exactly the user's own draws, nothing reseeded, saved or restored around them
        random.random()
    assert after_mocking == random.getstate()


def test_the_generators_a_faker_reaches_are_found() -> None:
    own_random = own.factories[0].random
    closure_random = random.Random(5)
    found = {id(adapter.rng) for adapter in reachable_generators(lambda: closure_random.random() + own.pyint())}
    assert {id(random._inst), id(_shared_faker_random()), id(own_random), id(closure_random)} <= found  # type: ignore[attr-defined]
    bound = {id(adapter.rng) for adapter in reachable_generators(own.pyint)}  # bound method of a provider
    assert id(own_random) in bound
    assert id(mine) in {id(adapter.rng) for adapter in reachable_generators(mine.random)}
    assert not any(isinstance(a.rng, random.SystemRandom) for a in reachable_generators(random.SystemRandom().random))


def test_a_draw_restores_the_generators_when_the_faker_raises() -> None:
    def broken() -> float:
        random.random()
        raise RuntimeError("faker failed")

    before = random.getstate()
    draws = SeededDraws(broken, 7, "Hall.P")
    with pytest.raises(RuntimeError), draws:
        broken()
    assert random.getstate() == before


def test_numpy_global_generator_is_seeded_and_restored_when_numpy_is_installed() -> None:
    numpy = pytest.importorskip("numpy")
    model = _model(Normal=lambda: float(numpy.random.normal()))
    numpy.random.seed(5)
    before = numpy.random.get_state()
    first = _values(model, seed=7)
    after = numpy.random.get_state()
    assert before[0] == after[0] and (before[1] == after[1]).all() and before[2:] == after[2:]
    numpy.random.normal(size=10)
    assert _values(model, seed=7) == first
    assert _values(model, seed=8) != first


class _Helper:
    """A user's helper object holding its own generator, called through a bound method."""

    def __init__(self) -> None:
        self.rng = random.Random()

    def reading(self) -> float:
        return self.rng.random()


def test_a_generator_held_by_a_helper_object_is_seeded() -> None:
    helper = _Helper()
    assert id(helper.rng) in {id(adapter.rng) for adapter in reachable_generators(helper.reading)}
    model = _model(Reading=helper.reading, ViaLambda=lambda: helper.reading() + 1)
    first = _values(model, seed=7)
    helper.rng.random()
    assert _values(model, seed=7) == first

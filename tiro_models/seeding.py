"""Reproducible user fakers: under a seed, the random generators a faker draws from are seeded per draw, then restored.

Asset libraries written for Tiro 0.13 draw from generators the mocker does not own: the `random` module, Faker
instances created at import time (before any seed is known) and numpy's global generator. A `SeededDraws` makes
each draw (one call of a mock column: many values of one point type) start from a state derived from
(seed, point type, draw number), so the values of a point type depend neither on process history nor on the order
in which other point types are drawn, and it puts every generator back as it found it afterwards. A process that
asks for no seed never comes here: its fakers consume its generators exactly as the user's own code would.

Reseeding once per draw instead of once per value keeps the cost to a few microseconds per batch.
"""

from __future__ import annotations

import hashlib
import inspect
import random
import sys
import types
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

# How far the search for generators follows references from a faker (closures, globals, bound objects).
_REACH_DEPTH = 6


class _PythonRandom:
    """A `random.Random` (the `random` module's own, Faker's shared one, or a user's): saved, seeded, restored."""

    __slots__ = ("rng",)

    def __init__(self, rng: Any) -> None:  # random.Random, or a numpy RandomState / Generator in the subclasses
        self.rng = rng

    def save(self) -> Any:
        return self.rng.getstate()

    def seed(self, material: int) -> None:
        self.rng.seed(material)

    def restore(self, state: Any) -> None:
        self.rng.setstate(state)


class _NumpyRandomState(_PythonRandom):
    """numpy's legacy `RandomState` (the global one behind `numpy.random.*`, or a user's), seeded with 32-bit words."""

    __slots__ = ()

    def save(self) -> Any:
        return self.rng.get_state()

    def seed(self, material: int) -> None:
        self.rng.seed([(material >> shift) & 0xFFFFFFFF for shift in (0, 32, 64, 96)])

    def restore(self, state: Any) -> None:
        self.rng.set_state(state)


class _NumpyGenerator(_PythonRandom):
    """A numpy `Generator` (`numpy.random.default_rng()`): its bit generator's state is saved and replaced."""

    __slots__ = ()

    def save(self) -> Any:
        return self.rng.bit_generator.state

    def seed(self, material: int) -> None:
        bits = self.rng.bit_generator
        bits.state = type(bits)(material).state

    def restore(self, state: Any) -> None:
        self.rng.bit_generator.state = state


def _shared_generators() -> list[Any]:
    """Generators any faker may reach indirectly: `random`'s, Faker's shared one and numpy's global (when loaded)."""
    found: list[Any] = [random._inst]  # the instance behind random.random() & co.
    faker_generator = sys.modules.get("faker.generator")
    if faker_generator is not None and isinstance(getattr(faker_generator, "random", None), random.Random):
        found.append(faker_generator.random)  # every Faker() that was never seed_instance()d draws from it
    numpy_global = getattr(getattr(_numpy_random(), "mtrand", None), "_rand", None)
    if numpy_global is not None:
        found.append(numpy_global)  # the RandomState behind numpy.random.normal() & co.
    return found


def _faker_parts(obj: Any) -> list[Any] | None:
    """What a Faker object draws through (generators, their Random), or None when `obj` is no Faker object."""
    module = type(obj).__module__ or ""
    if not (module == "faker" or module.startswith("faker.")):
        return None
    proxy = sys.modules.get("faker.proxy")
    generator = sys.modules.get("faker.generator")
    if proxy is not None and isinstance(obj, proxy.Faker):
        return list(obj.factories)
    if generator is not None and isinstance(obj, generator.Generator):
        return [obj.random]
    parts = [getattr(obj, name) for name in ("generator", "_proxy") if name in getattr(obj, "__dict__", {})]
    return parts  # providers hold their generator; unique/optional proxies hold their Faker


def _numpy_random() -> types.ModuleType | None:
    """`numpy.random` when the process has imported numpy (numpy 2 loads the submodule lazily), else None."""
    numpy = sys.modules.get("numpy")
    return getattr(numpy, "random", None) if numpy is not None else None


def _numpy_adapter(obj: Any) -> _PythonRandom | None:
    """An adapter for a numpy generator object, or None (numpy is only looked at when already imported)."""
    numpy_random = _numpy_random()
    if numpy_random is None:
        return None
    if isinstance(obj, numpy_random.RandomState):
        return _NumpyRandomState(obj)
    if isinstance(obj, numpy_random.Generator):
        return _NumpyGenerator(obj)
    return None


def _code_names(code: types.CodeType) -> Iterator[str]:
    """Global names a code object and the functions nested in it refer to."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _references(obj: Any) -> list[Any]:
    """The objects a callable or object can draw through: closure cells, referenced globals, bound or partial parts."""
    if isinstance(obj, partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if isinstance(obj, types.MethodType):
        return [obj.__func__, obj.__self__]
    if isinstance(obj, types.BuiltinMethodType):
        owner = getattr(obj, "__self__", None)
        return [] if owner is None or isinstance(owner, types.ModuleType) else [owner]
    if isinstance(obj, types.FunctionType):
        found = [cell.cell_contents for cell in obj.__closure__ or () if _filled(cell)]
        found += list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
        namespace = obj.__globals__
        found += [namespace[name] for name in dict.fromkeys(_code_names(obj.__code__)) if name in namespace]
        return found
    # Any other object (a callable instance, a helper holding a generator): its class's __call__ and its attributes.
    call = inspect.getattr_static(type(obj), "__call__", None)
    found = [call] if isinstance(call, types.FunctionType) else []
    try:
        attributes = vars(obj)  # not getattr: a proxy's __getattr__ must not run
    except TypeError:
        return found
    return found + list(attributes.values())


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018  # an empty cell raises
    except ValueError:
        return False
    return True


def reachable_generators(faker: Callable[[], Any]) -> list[Any]:
    """Adapters for every generator `faker` may draw from: the shared ones, then the user's own it references."""
    adapters: list[Any] = []
    seen: set[int] = set()

    def add(rng: Any) -> None:
        if id(rng) in seen:
            return
        seen.add(id(rng))
        if isinstance(rng, random.Random):
            if not isinstance(rng, random.SystemRandom):  # the OS source cannot be seeded
                adapters.append(_PythonRandom(rng))
        else:
            numpy_adapter = _numpy_adapter(rng)
            if numpy_adapter is not None:
                adapters.append(numpy_adapter)

    for shared in _shared_generators():
        add(shared)
    visited: set[int] = set()
    frontier: list[Any] = [faker]
    for _ in range(_REACH_DEPTH):
        following: list[Any] = []
        for obj in frontier:
            if id(obj) in visited or isinstance(obj, type | types.ModuleType | str | bytes | int | float):
                continue
            visited.add(id(obj))
            if isinstance(obj, random.Random) or _numpy_adapter(obj) is not None:
                add(obj)
                continue
            parts = _faker_parts(obj)
            following += parts if parts is not None else _references(obj)
        frontier = following
    return adapters


def _material(seed: int, key: str, draw: int, index: int) -> int:
    """128 bits that stand for one generator of one draw: stable across processes (unlike `hash()` of a str)."""
    text = f"{seed}\x00{key}\x00{draw}\x00{index}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "little")


class SeededDraws:
    """Context manager around one draw of a faker: seeds its generators from (seed, key, draw number), then restores.

    `key` names what is drawn (a point type path): different keys and successive draws get different streams.
    """

    __slots__ = ("_saved", "draws", "generators", "key", "seed")

    def __init__(self, faker: Callable[[], Any], seed: int, key: str) -> None:
        self.generators = reachable_generators(faker)
        self.seed = seed
        self.key = key
        self.draws = 0
        self._saved: list[Any] = []

    def __enter__(self) -> None:
        self._saved = [generator.save() for generator in self.generators]
        draw = self.draws
        self.draws = draw + 1
        for index, generator in enumerate(self.generators):
            generator.seed(_material(self.seed, self.key, draw, index))

    def __exit__(self, *exc: object) -> None:
        for generator, state in zip(self.generators, self._saved, strict=True):
            generator.restore(state)
        self._saved = []


__all__ = ["SeededDraws", "reachable_generators"]

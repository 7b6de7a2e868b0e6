"""`ConverterBase`: turn one item into 0..N items and route them along `next`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from types import GeneratorType
from typing import Any

from karez.config import ConfigEntity, OptionalConfigEntity
from karez.role import RoleBase
from karez.routing import route, with_source_meta
from karez.utils import resolve_items


def next_targets(role: RoleBase) -> list[Any]:
    """The `next` key as a list; empty means "to aggregators"."""
    value = role.raw_config.get("next")
    if not value:
        return [None]
    return [value] if isinstance(value, str) else list(value)


class ConverterBase(RoleBase):
    """Converts items; sync or async `convert`, generators and async generators all work."""

    TYPE = "converter"
    # the `convert_batch` that converts a message's items, or None for one awaited call per item: chosen once per
    # class, when the class is created
    _batch_conversion: Callable[[Any, list[Any], str], list[Any]] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._batch_conversion = _batch_conversion(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets: list[Any] = next_targets(self)  # `next`, read once: every message is routed by it

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """`next`: converter names (null entries mean "to aggregators")."""
        yield from super().config_entities()
        yield OptionalConfigEntity("next", None, "Converter names to send results to")

    @property
    def listens(self) -> bool:
        """Converters subscribe to their subject."""
        return True

    def convert(self, payload: Any) -> Any:
        """Yield converted items (plugins implement this)."""
        raise NotImplementedError

    async def process(self, payload: Any) -> Any:
        """`convert(payload)`, or [] when it raised synchronously."""
        try:
            result = self.convert(payload)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as e:
            self.log_exception(e, "Error converting")
            return []

    async def convert_items(self, payload: Any, subject: str) -> list[Any]:
        """All outputs for one input; errors while iterating a generator are logged, the input yields nothing."""
        try:
            result = await self.process(payload)
            if type(result) is GeneratorType:  # the common case: a sync generator `convert`
                return list(result)
            return await resolve_items(result)
        except Exception as e:
            self.log_exception(e, f"Error converting message from {subject}")
            return []

    async def handle_items(self, items: list[Any], subject: str) -> list[tuple[str, Any]]:
        """Convert a message's items and route the outputs, with meta merged from their inputs."""
        batch = type(self)._batch_conversion  # through the class: the plain function, not a bound method
        if batch is not None:
            return route(batch(self, items, subject), self.targets, self.name)
        converted: list[Any] = []
        for payload in items:  # an async `convert` or a custom `process`: one awaited call per item
            if type(payload) is not dict:
                self.drop_non_object(subject)
                continue
            results = await self.convert_items(payload, subject)
            if results:
                converted += with_source_meta(results, payload)
        return route(converted, self.targets, self.name)

    def convert_batch(self, payloads: list[Any], subject: str = "") -> list[Any]:
        """The outputs of a message's items, in order, each with its input's meta merged in (`with_source_meta`).

        The default calls `convert` on each item. Override it to convert a batch faster; it then runs only while
        the class defining it also defines the `convert` in effect and the stock `process` (a subclass that changes
        either gets per-item calls). It must give what per-item calls give: a non-object is dropped with
        `drop_non_object`, and a failing item is logged with `log_exception` and skipped, not raised."""
        convert = self.convert
        merged: list[Any] = []
        for payload in payloads:
            if type(payload) is not dict:
                self.drop_non_object(subject)
                continue
            try:
                results = list(convert(payload))
            except Exception as e:
                self.log_exception(e, f"Error converting message from {subject}")
                continue
            merged += with_source_meta(results, payload)
        return merged

    def drop_non_object(self, subject: str) -> None:
        """Count and log an item that is not a JSON object (converters take objects only)."""
        self.stats.dropped += 1
        self.log("error", f"Dropped a non-object item on {subject}")


def objects_only(role: ConverterBase, payloads: list[Any], subject: str) -> list[dict[str, Any]]:
    """The items that are JSON objects; each other one is dropped with `drop_non_object`."""
    objects = [p for p in payloads if type(p) is dict]
    for _ in range(len(payloads) - len(objects)):
        role.drop_non_object(subject)
    return objects


def _batch_conversion(cls: type[ConverterBase]) -> Callable[[Any, list[Any], str], list[Any]] | None:
    """The `convert_batch` for a class with the stock `process`: its own when that comes from the class of its
    `convert` or a subclass of it, else the default when its `convert` is a plain generator function; None (one
    awaited call per item) for an async `convert` or a custom `process`."""
    if cls.process is not ConverterBase.process:
        return None
    batch_owner = next(k for k in cls.__mro__ if "convert_batch" in k.__dict__)
    if batch_owner is not ConverterBase:
        convert_owner = next(k for k in cls.__mro__ if "convert" in k.__dict__)
        if issubclass(batch_owner, convert_owner):
            batch: Callable[[Any, list[Any], str], list[Any]] = batch_owner.__dict__["convert_batch"]
            return batch
    return ConverterBase.convert_batch if inspect.isgeneratorfunction(cls.convert) else None

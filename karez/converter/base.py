"""`ConverterBase`: turn one item into 0..N items and route them along `next`."""

from __future__ import annotations

import inspect
from itertools import repeat
from types import GeneratorType
from typing import Any

from karez.config import OptionalConfigEntity
from karez.role import RoleBase
from karez.routing import META_KEY, route, with_source_meta
from karez.utils import resolve_items


def next_targets(role: RoleBase) -> list[Any]:
    """The `next` key as a list; empty means "to aggregators"."""
    value = role.raw_config.get("next")
    if not value:
        return [None]
    return [value] if isinstance(value, str) else list(value)


def cached_next_targets(role: RoleBase) -> list[Any]:
    """`next_targets(role)`, worked out once per role (it is read for every message)."""
    targets = role.__dict__.get("_targets")
    if targets is None:
        targets = role.__dict__["_targets"] = next_targets(role)
    return targets


def batch_path_targets(role: ConverterBase, owner: type[ConverterBase]) -> list[Any] | None:
    """The `next` targets when `owner`'s `convert` and the stock `process` are the ones in effect, so `owner`'s batch
    `handle_items` may run; None when a subclass changed the conversion (it must take the per-item path)."""
    if type(role).convert is not owner.convert or type(role).process is not ConverterBase.process:
        return None
    return cached_next_targets(role)


class ConverterBase(RoleBase):
    """Converts items; sync or async `convert`, generators and async generators all work."""

    TYPE = "converter"

    @classmethod
    def config_entities(cls):
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
        """Convert each input and route outputs with meta merged from the input."""
        targets = cached_next_targets(self)
        fast = self.__dict__.get("_fast_convert")
        if fast is None:
            # plain sync generator `convert` and the stock `process`: call it directly (hot path)
            fast = type(self).process is ConverterBase.process and inspect.isgeneratorfunction(self.convert)
            self.__dict__["_fast_convert"] = fast
        if not fast:
            converted: list[Any] = []
            for payload in items:
                if type(payload) is not dict:
                    self._drop_non_object(subject)
                    continue
                results = await self.convert_items(payload, subject)
                if results:
                    converted += with_source_meta(results, payload)
            return route(converted, targets, self.name)
        many = self.__dict__.get("_convert_many", False)
        if many is False:
            many = self.__dict__["_convert_many"] = in_place_batch_converter(type(self))
        if many is not None:
            objects = [p for p in items if type(p) is dict]
            for _ in range(len(items) - len(objects)):
                self._drop_non_object(subject)
            try:
                kept = many(self, objects, subject)
            except Exception as e:  # it may have edited some inputs already: converting them again is not safe
                self.log_exception(e, f"Error converting a batch of {len(objects)} items from {subject}")
                return []
            if not all(map(dict.__contains__, kept, repeat(META_KEY))):
                for item in kept:
                    item.setdefault(META_KEY, {})
            return route(kept, targets, self.name)
        convert = self.convert
        merged: list[Any] = []
        for payload in items:
            if type(payload) is not dict:
                self._drop_non_object(subject)
                continue
            try:
                results = list(convert(payload))
            except Exception as e:
                self.log_exception(e, f"Error converting message from {subject}")
                continue
            merged += with_source_meta(results, payload)
        return route(merged, targets, self.name)

    def convert_many(self, payloads: list[dict], subject: str = "") -> list[dict]:
        """Optional batch form of `convert` for converters that edit items in place: the kept inputs, in order.

        Only used when the class defining it also defines the `convert` in effect (a subclass overriding `convert`
        falls back to per-item calls). It must behave exactly like calling `convert` on each payload, including
        logging (not raising) a failure of one item; an exception that escapes loses the whole message."""
        raise NotImplementedError

    def _drop_non_object(self, subject: str) -> None:
        self.stats.dropped += 1
        self.log("error", f"Dropped a non-object item on {subject}")


def in_place_batch_converter(cls: type) -> Any:
    """`cls.convert_many` when the same class (or a subclass of it) also defines the `convert` in effect, else None."""
    many_owner = next((k for k in cls.__mro__ if "convert_many" in k.__dict__), None)
    convert_owner = next((k for k in cls.__mro__ if "convert" in k.__dict__), None)
    if many_owner is None or many_owner is ConverterBase or convert_owner is None:
        return None
    return many_owner.__dict__["convert_many"] if issubclass(many_owner, convert_owner) else None

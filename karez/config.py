"""Config entities: the keys a role declares, their defaults, and lookup with upstream Karez semantics."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from karez.box import ConfigBox
from karez.settings import ConfigError

logger = logging.getLogger("karez")


class MissingConfigError(ConfigError, RuntimeError):
    """A required config entity is absent (still a RuntimeError, which is what upstream Karez raised)."""


def _sentence(text: str) -> str:
    text = (text or "").strip().rstrip(".")
    return f"{text}." if text else ""


class ConfigEntity:
    """A required configuration key."""

    required = True

    def __init__(self, name: str, description: str = "") -> None:
        self.name = name
        self.description = _sentence(description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class OptionalConfigEntity(ConfigEntity):
    """An optional configuration key with a default; a default that is an entity means "same as that key"."""

    required = False

    def __init__(self, name: str, default: Any = None, description: str = "") -> None:
        super().__init__(name, description)
        self.default = default

    def default_text(self) -> str:
        """How `plugin-doc` shows the default."""
        if isinstance(self.default, ConfigEntity):
            return f"Same as {self.default.name}"
        return repr(self.default)


class _ConfigGetter:
    """`role.config.<key>` and `role.config[key]` both resolve through the declared entities."""

    def __init__(self, owner: ConfigurableBase) -> None:
        self._owner = owner

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        owner = self._owner
        value = owner.get_config(key)
        if key in owner._config_cache:
            # later reads become plain attribute hits (roles read their config per message)
            self.__dict__[key] = value
        return value

    def __getitem__(self, key: str) -> Any:
        return self._owner.get_config(key)

    def get(self, key: str, default: Any = None) -> Any:
        """The configured value of `key`, or `default` when the key is absent from the raw config."""
        raw = self._owner.raw_config
        return raw.get(key, default) if not self._owner.is_configured(key) else self._owner.get_config(key)


_SWITCH_TEXTS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def switch(value: Any, key: str) -> bool:
    """A yes/no key's value: a boolean, or its text as YAML quotes it or the environment gives it (`"false"`, `off`,
    `0`); ValueError naming `key` for anything else (a plain `bool()` would read `"false"` as on)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str) and str(value).strip().lower() in _SWITCH_TEXTS:
        return _SWITCH_TEXTS[str(value).strip().lower()]
    raise ValueError(f"{key} must be true or false, not {value!r}")


def collect_entities(obj: Any) -> dict[str, ConfigEntity]:
    """Declared entities of a class or instance by lower-cased name; works for instance-method declarations."""
    declare = obj.config_entities
    try:
        entities = list(declare())
    except TypeError:
        # `config_entities` declared as an instance method and asked on the class (plugin-doc)
        entities = list(declare(obj.__new__(obj)))
    return {entity.name.lower(): entity for entity in entities}


class ConfigurableBase:
    """Base of every role: stores the raw config and exposes declared keys through `self.config`."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.raw_config = config if isinstance(config, ConfigBox) else ConfigBox(config or {})
        self._entities = collect_entities(self)
        self._config_cache: dict[str, Any] = {}
        self.config = _ConfigGetter(self)

    @classmethod
    def config_entities(cls) -> Iterator[ConfigEntity]:
        """Yield the keys this class understands; subclasses chain `yield from super(...).config_entities()`."""
        yield from ()

    def get_config(self, key: str) -> Any:
        """Value of a declared key: required keys must be present, optional ones fall back to their default."""
        # role configs are fixed after start-up: cache resolved values (hot paths read them per message)
        try:
            return self._config_cache[key]
        except KeyError:
            value = self._resolve_config(key)
            if key.lower() in self._entities:
                self._config_cache[key] = value
            return value

    def _resolve_config(self, key: str) -> Any:
        entity = self._entities.get(key.lower())
        if entity is None:
            logger.warning("Unknown config entity %s for %s.", key, self)
            return None
        if entity.required:
            if not self.raw_config.has(entity.name):
                raise MissingConfigError(
                    f"[{type(self).__name__}] Config entity {entity.name} is required but not found."
                )
            return self.raw_config[entity.name]
        if self.raw_config.has(entity.name):
            return self.raw_config[entity.name]
        assert isinstance(entity, OptionalConfigEntity)  # not required
        if isinstance(entity.default, ConfigEntity):
            return self.get_config(entity.default.name)
        return entity.default

    def is_configured(self, key: str) -> bool:
        """True when the key is present in the raw config (even if null)."""
        return self.raw_config.has(key)

    @classmethod
    def config_docs(cls) -> list[str]:
        """Documentation lines: required entities first, then optional ones with their defaults."""
        entities = list(collect_entities(cls).values())
        lines = [f" - {e.name}: {e.description}" for e in entities if e.required]
        for e in entities:
            if isinstance(e, OptionalConfigEntity):
                lines.append(f" - {e.name}: [Optional] {e.description}")
                lines.append(f"     default: {e.default_text()}")
        return lines

    @classmethod
    def print_config_docs(cls, indent: int = 0) -> None:
        """Print `config_docs()` with an indent."""
        for line in cls.config_docs():
            print(" " * indent + line)

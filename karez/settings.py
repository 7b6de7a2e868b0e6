"""Configuration files without Dynaconf: YAML files in order, case-insensitive keys, env overrides, tokens."""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from karez.box import ConfigBox

ROLE_LISTS = {
    "dispatcher": "dispatchers",
    "connector": "connectors",
    "converter": "converters",
    "aggregator": "aggregators",
}
ENV_PREFIX = "KAREZ_"
_FORMAT_FIELD = re.compile(r"\{env\[([^\]]+)\]\}")


class ConfigError(Exception):
    """A configuration file or value is invalid; the message names the file and line."""


def default_config_files() -> list[str]:
    """Upstream default: every YAML/JSON file in ./config."""
    return sorted(f for f in glob.glob("./config/*") if f.endswith((".yaml", ".yml", ".json")))


class LocatedDict(dict[str, Any]):
    """A mapping read from YAML that remembers `file:line` in `origin`."""

    origin: str = ""


class _LocatingLoader(yaml.SafeLoader):
    """SafeLoader that records where each mapping starts."""

    source = ""

    def construct_located_mapping(self, node: yaml.MappingNode) -> LocatedDict:
        mapping = LocatedDict(cast(dict[str, Any], self.construct_mapping(node, deep=True)))
        mapping.origin = f"{self.source}:{node.start_mark.line + 1}"
        return mapping


_LocatingLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LocatingLoader.construct_located_mapping
)


def _read_yaml(path: str) -> Mapping[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        loader = _LocatingLoader(text)
        loader.source = path
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ConfigError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from e
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}:1: the top level must be a mapping, got {type(data).__name__}")
    return data


def resolve_token(value: Any, environ: Mapping[str, str], where: str = "") -> Any:
    """Evaluate Dynaconf-style `@format {env[NAME]}`, `@int`, `@float`, `@bool`, `@json` string tokens."""
    if not isinstance(value, str) or not value.startswith("@"):
        return value
    token, _, rest = value.partition(" ")
    try:
        if token == "@format":

            def sub(m: re.Match[str]) -> str:
                name = m.group(1).strip("'\"")
                if name not in environ:
                    raise ConfigError(f"{where}: environment variable {name} is not set")
                return environ[name]

            return _FORMAT_FIELD.sub(sub, rest)
        if token == "@int":
            return int(rest)
        if token == "@float":
            return float(rest)
        if token == "@bool":
            return rest.strip().lower() in ("1", "true", "yes", "on")
        if token == "@json":
            return json.loads(rest)
    except (ValueError, json.JSONDecodeError) as e:
        raise ConfigError(f"{where}: cannot evaluate {value!r}: {e}") from e
    return value


def _resolve_tree(value: Any, environ: Mapping[str, str], where: str) -> Any:
    if isinstance(value, Mapping):
        out = LocatedDict({k: _resolve_tree(v, environ, f"{where}.{k}") for k, v in value.items()})
        out.origin = getattr(value, "origin", "")
        return out
    if isinstance(value, list):
        return [_resolve_tree(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    return resolve_token(value, environ, where)


def parse_env_value(text: str) -> Any:
    """An env override value: JSON if it parses, else YAML, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def load_settings(
    files: Iterable[str], environ: Mapping[str, str] | None = None, env_prefix: str | None = ENV_PREFIX
) -> ConfigBox:
    """Merge files in order (later top-level keys replace earlier), apply `KAREZ_<KEY>` overrides and tokens."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path in files:
        for key, value in _read_yaml(path).items():
            lower = str(key).lower()
            merged[lower] = value
            sources[lower] = path
    if env_prefix:
        for name, text in env.items():
            if name.upper().startswith(env_prefix) and name.upper() != "KAREZ_NATS_ADDR":
                key = name[len(env_prefix) :].lower()
                merged[key] = parse_env_value(text)
                sources[key] = f"${name}"
    resolved = {k: _resolve_tree(v, env, f"{sources[k]}: {k}") for k, v in merged.items()}
    return ConfigBox(resolved)


def role_configs(settings: Mapping[str, Any], kind: str) -> list[ConfigBox]:
    """The role list of a kind (missing means none)."""
    roles = settings.get(ROLE_LISTS[kind]) or []
    if not isinstance(roles, list):
        raise ConfigError(f"{ROLE_LISTS[kind]}: must be a list of role configs")
    return [r if isinstance(r, ConfigBox) else ConfigBox(r) if isinstance(r, Mapping) else r for r in roles]

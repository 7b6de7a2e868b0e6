"""Safe YAML loading that remembers the 1-based line of every mapping, key and list item, for error messages."""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from .errors import InputError

# The C parser is several times faster; the constructor stays in Python so line marks are available either way.
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlMap(dict):
    """A YAML mapping that knows its own line and the line of each key."""

    __slots__ = ("key_lines", "line")

    def __init__(self, *args: Any, line: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.key_lines: dict[Any, int] = {}


class YamlList(list):
    """A YAML sequence that knows its own line and the line of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, *args: Any, line: int | None = None) -> None:
        super().__init__(*args)
        self.line = line
        self.item_lines: list[int] = []


class _DuplicateKey(yaml.MarkedYAMLError):
    """A mapping repeats a key (YAML says keys are unique; PyYAML would silently keep the last)."""


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> YamlMap:
    result = YamlMap(line=node.start_mark.line + 1)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable mapping key", key_node.start_mark
            ) from None
        if key in result:
            raise _DuplicateKey(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: Any, node: yaml.SequenceNode) -> YamlList:
    result = YamlList(line=node.start_mark.line + 1)
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(item.start_mark.line + 1)
    return result


class LineLoader(_BaseLoader):
    """A safe loader that builds YamlMap/YamlList with line numbers."""


# YAML 1.2 booleans: only true/false. YAML 1.1 also read yes/no/on/off as booleans, which turns a data point
# named `On` or an id `no` into True/False.
_BOOL_TAG = "tag:yaml.org,2002:bool"
LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()  # type: ignore[attr-defined]
}
LineLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def parse_yaml(text: str, file: str | None = None, error: type[InputError] = InputError) -> Any:
    """Parse YAML text safely; any syntax problem becomes `error` naming the file and line."""
    try:
        return yaml.load(text, Loader=LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise error(f"malformed YAML: {problem}", file, line, unreadable=True) from None
    except yaml.YAMLError as exc:
        raise error(f"malformed YAML: {exc}", file, None, unreadable=True) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # e.g. a timestamp scalar the constructor cannot represent
        raise error(f"malformed YAML: {exc}", file, None, unreadable=True) from None


def load_yaml_file(path: str | os.PathLike, error: type[InputError] = InputError) -> Any:
    """Read and parse a YAML file; unreadable or malformed files become `error` naming the file (and line)."""
    file = os.fspath(path)
    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise error("file not found", file, unreadable=True) from None
    except IsADirectoryError:
        raise error("is a directory, expected a YAML file", file, unreadable=True) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text: {exc.reason}", file, unreadable=True) from None
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}", file, unreadable=True) from None
    return parse_yaml(text, file, error)


def key_line(mapping: Any, key: Any) -> int | None:
    """The line of `key` in a YamlMap (or of the mapping itself), None for plain dicts."""
    lines = getattr(mapping, "key_lines", None)
    if lines is not None and key in lines:
        return lines[key]
    return getattr(mapping, "line", None)


def item_line(sequence: Any, index: int) -> int | None:
    """The line of item `index` in a YamlList (or of the list itself), None for plain lists."""
    lines = getattr(sequence, "item_lines", None)
    if lines is not None and index < len(lines):
        return lines[index]
    return getattr(sequence, "line", None)


def node_line(node: Any) -> int | None:
    """The line where a YamlMap/YamlList starts, None for anything else."""
    return getattr(node, "line", None)

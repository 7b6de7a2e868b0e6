"""Uses YAML → the required type paths, each with the file and line that asked for it, in first-mention order.

Accepted forms, nested to any depth: a list of names and one-key mappings (`- Rack: [ActivePower]`), a mapping
(`DataHall: {CRAC: [X]}`), a mapping to a single name (`Rack: ActivePower`), and dotted names (`Rack.ActivePower`).
A child named with nothing under it (`- Rack`, `Rack:` or `Rack: []`) is required with no points.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .diagnostics import Reporter
from .errors import UsesError
from .spec import PATH_SEP
from .yaml_io import item_line, key_line, node_line


class UseEntry(NamedTuple):
    """One required type path (names from the root) and where the uses file asked for it."""

    prefix: tuple[str, ...]  # the child slots the leaf is under (shared by all items of one uses list)
    leaf: tuple[str, ...]  # the required name (several for a dotted name)
    file: str | None
    line: int | None  # where the last name is
    lines: tuple[int | None, ...] = ()  # where the leading names are; the rest are on `line`

    def line_of(self, index: int) -> int | None:
        """The line of the name at `index`."""
        return self.lines[index] if index < len(self.lines) else self.line

    @property
    def names(self) -> tuple[str, ...]:
        """Every name of the type path, from the root."""
        return self.prefix + self.leaf

    @property
    def path(self) -> str:
        """The dotted type path."""
        return PATH_SEP.join(self.names)


def _split(name: Any) -> tuple[str, ...] | None:
    if type(name) is str and PATH_SEP not in name:  # the common case, kept cheap for large uses files
        name = name.strip()
        return (name,) if name else None
    if isinstance(name, bool) or not isinstance(name, str | int | float):
        return None
    parts = tuple(part.strip() for part in str(name).split(PATH_SEP))
    return parts if all(parts) else None


class _Walker:
    def __init__(self, file: str | None, reporter: Reporter) -> None:
        self.file = file
        self.reporter = reporter
        self.entries: list[UseEntry] = []

    def bad(self, message: str, line: int | None) -> None:
        self.reporter.error(UsesError, message, self.file, line)

    def add(self, names: tuple[str, ...], lines: tuple[int | None, ...]) -> None:
        self.entries.append(UseEntry(names[:-1], names[-1:], self.file, lines[-1] if lines else None, lines))

    def items(self, node: Any, prefix: tuple[str, ...], lines: tuple[int | None, ...], line: int | None) -> None:
        if node is None:
            if prefix:
                self.add(prefix, lines)
        elif isinstance(node, list):
            if not node and prefix:
                self.add(prefix, lines)
            item_lines = getattr(node, "item_lines", None)
            entries, file = self.entries, self.file
            for index, item in enumerate(node):
                here = item_lines[index] if item_lines is not None else item_line(node, index)
                if type(item) is str and PATH_SEP not in item and prefix:
                    # the common case, kept cheap for large uses files: a point name under a child
                    name = item.strip()
                    if name:
                        entries.append(UseEntry(prefix, (name,), file, here, lines))
                        continue
                if isinstance(item, dict):
                    self.mapping(item, prefix, lines, here)
                elif isinstance(item, list):
                    self.bad("a uses list item must be a name or a `Child: [...]` mapping, not a list", here)
                else:
                    self.name(item, prefix, lines, here)
        elif isinstance(node, dict):
            self.mapping(node, prefix, lines, line)
        else:
            self.name(node, prefix, lines, line)

    def mapping(self, node: dict, prefix: tuple[str, ...], lines: tuple[int | None, ...], line: int | None) -> None:
        if not node and prefix:
            self.add(prefix, lines)
        for key, value in node.items():
            here = key_line(node, key)
            names = _split(key)
            if names is None:
                self.bad(f"expected a child name as mapping key, got {key!r}", here)
                continue
            self.items(value, prefix + names, lines + (here,) * len(names), here)

    def name(self, item: Any, prefix: tuple[str, ...], lines: tuple[int | None, ...], line: int | None) -> None:
        names = _split(item)
        if names is None:
            self.bad(f"expected a data-point or child name, got {item!r}", line)
            return
        self.entries.append(UseEntry(prefix, names, self.file, line, lines))


def parse_uses(doc: Any, file: str | None, reporter: Reporter) -> list[UseEntry]:
    """Every type path a parsed uses document requires, in document order (duplicates kept)."""
    walker = _Walker(file, reporter)
    if doc is None:
        reporter.warning("the uses file requires nothing", file, 1)
        return []
    if not isinstance(doc, list | dict):
        walker.bad(f"a uses file must be a list or a mapping, got {doc!r}", node_line(doc) or 1)
        return []
    walker.items(doc, (), (), node_line(doc) or 1)
    return walker.entries

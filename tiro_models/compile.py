"""The public entry point: scenario + uses (+ asset library) → the compiled type-level `Model`."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Reporter
from .errors import InputError, LibraryError, ScenarioError, UsesError
from .library.asset_type import AssetLibrary, AssetType, ChildDecl
from .library.python_api import Entity, EntityList
from .library.python_library import library_from_classes
from .library.resolve import open_library
from .scenario import ScenarioDecl, SlotDecl, parse_scenario
from .spec import PATH_SEP, Model, PointDef, PointSpec, SlotSpec, Source
from .uses import UseEntry, parse_uses
from .yaml_io import load_yaml_file, parse_yaml


@dataclass(slots=True)
class SlotNode:
    """A scenario slot with its asset types resolved: what the slot can offer, before the uses pick from it."""

    name: str
    type_path: str
    type_names: tuple[str, ...]
    number: tuple[int, int]
    ids: tuple[str, ...] | None
    defaults: dict[str, Any]
    default_lines: dict[str, int | None]
    source: Source
    types: tuple[AssetType, ...] = ()
    known: dict[str, PointDef] = field(default_factory=dict)
    children: dict[str, SlotNode] = field(default_factory=dict)
    declared_children: dict[str, ChildDecl] = field(default_factory=dict)
    broken: bool = False  # its types could not be resolved: later problems about it would only be noise

    def child(self, name: str) -> SlotNode | None:
        """The child slot `name`: from the scenario, else one the asset type declares itself."""
        found = self.children.get(name)
        if found is None and name in self.declared_children:
            declared = self.declared_children[name]
            found = _declared_node(declared, self.type_path + PATH_SEP + name, self.source)
            self.children[name] = found
        return found


def _merge(types: Sequence[AssetType]) -> tuple[dict[str, PointDef], dict[str, ChildDecl]]:
    points: dict[str, PointDef] = {}
    children: dict[str, ChildDecl] = {}
    for asset_type in types:  # later bases win, as in a dict merge
        points.update(asset_type.points)
        children.update(asset_type.children)
    return points, children


def _declared_node(declared: ChildDecl, type_path: str, source: Source) -> SlotNode:
    known, children = _merge(declared.types)
    return SlotNode(
        name=declared.name,
        type_path=type_path,
        type_names=tuple(t.name for t in declared.types),
        number=declared.number,
        ids=declared.ids,
        defaults={},
        default_lines={},
        source=source,
        types=tuple(declared.types),
        known=known,
        declared_children=children,
    )


class Compiler:
    """Resolves a parsed scenario against its library and builds the model the uses require."""

    def __init__(self, reporter: Reporter, *, strict: bool = False) -> None:
        self.reporter = reporter
        self.strict = strict
        self._types: dict[tuple[str, ...], tuple[AssetType, ...] | None] = {}

    def open_library(self, decl: ScenarioDecl, base_dir: Path | None) -> AssetLibrary | None:
        """The scenario's asset library, or None after reporting why it cannot be loaded."""
        if decl.library_name is None:
            self.reporter.error(
                ScenarioError, "the scenario names no asset library ($asset_library_name)", decl.file, decl.library_line
            )
            return None
        try:
            return open_library(decl.library_name, decl.library_path, base_dir)
        except LibraryError as exc:
            if exc.file is None:
                self.reporter.error(LibraryError, exc.message, decl.file, decl.library_line)
            else:
                where = f"{decl.file}:{decl.library_line}" if decl.file else "the scenario"
                self.reporter.raised(LibraryError(f"{exc.message} (library named at {where})", exc.file, exc.line))
            return None

    def resolve(self, decl: ScenarioDecl, library: AssetLibrary | None) -> dict[str, SlotNode]:
        """Every scenario slot with its asset types resolved."""
        return {name: self._node(slot, decl.file, library) for name, slot in decl.roots.items()}

    def _node(self, slot: SlotDecl, file: str | None, library: AssetLibrary | None) -> SlotNode:
        node = SlotNode(
            name=slot.name,
            type_path=slot.type_path,
            type_names=slot.type_names,
            number=slot.number,
            ids=slot.ids,
            defaults=slot.defaults,
            default_lines=slot.default_lines,
            source=slot.source,
        )
        types = self._asset_types(slot, file, library) if library is not None and slot.type_names else None
        if types is None:
            node.broken = True
        else:
            node.types = types
            node.known, node.declared_children = _merge(types)
            self._check_defaults(node, file)
        node.children = {name: self._node(child, file, library) for name, child in slot.children.items()}
        return node

    def _asset_types(self, slot: SlotDecl, file: str | None, library: AssetLibrary) -> tuple[AssetType, ...] | None:
        key = slot.type_names
        if key in self._types:
            cached = self._types[key]
            if cached is None:
                self.reporter.error(
                    ScenarioError, f"slot {slot.type_path}: unknown $type {list(key)}", file, slot.type_line
                )
            return cached
        resolved: list[AssetType] = []
        for name in key:
            try:
                resolved.append(library.resolve(name))
            except LookupError as exc:
                message = exc.args[0] if exc.args else f"unknown type {name!r}"
                self.reporter.error(ScenarioError, f"slot {slot.type_path}: {message}", file, slot.type_line)
                self._types[key] = None
                return None
            except InputError as exc:
                self.reporter.raised(exc)
                self._types[key] = None
                return None
        self._types[key] = tuple(resolved)
        return self._types[key]

    def _check_defaults(self, node: SlotNode, file: str | None) -> None:
        for name in node.defaults:
            if name not in node.known:
                message = (
                    f"slot {node.type_path}: $defaults names {name!r}, which asset type "
                    f"{'/'.join(node.type_names)} does not declare"
                )
                if self.strict:
                    self.reporter.error(ScenarioError, message, file, node.default_lines.get(name))
                else:
                    self.reporter.warning(message, file, node.default_lines.get(name))

    def build(self, roots: dict[str, SlotNode], uses: Sequence[UseEntry], scenario_file: str | None) -> Model:
        """The model of what `uses` require: slots and points in first-mention order."""
        model = Model(roots={}, points={}, slots={}, uses=(), scenario_file=scenario_file)
        seen_uses: dict[str, None] = {}
        # consecutive entries usually share their parent path (a list of points): resolve it once
        last_prefix: tuple[str, ...] | None = None
        parent: tuple[SlotNode, SlotSpec] | None = None
        for entry in uses:
            prefix, leaf = entry.prefix, entry.leaf
            if len(leaf) != 1:
                prefix = prefix + leaf[:-1]
            if prefix is not last_prefix and prefix != last_prefix:
                last_prefix = prefix
                parent = self._walk(entry, len(prefix), roots, model) if prefix else None
            name = leaf[-1]
            if parent is not None:
                node, spec = parent
                definition = node.known.get(name)
                if definition is not None:
                    type_path = node.type_path + PATH_SEP + name
                    seen_uses.setdefault(type_path, None)
                    if name not in spec.points:
                        default = node.defaults.get(name, definition.default)
                        spec.points[name] = model.points[type_path] = PointSpec(
                            type_path, node.type_path, definition, default
                        )
                    continue
            names = (*prefix, name)
            seen_uses.setdefault(PATH_SEP.join(names), None)
            if prefix and parent is None:
                continue  # the parent path was reported already
            self._walk(entry, len(names), roots, model)
        model.uses = tuple(seen_uses)
        return model

    def _walk(
        self, entry: UseEntry, depth: int, roots: dict[str, SlotNode], model: Model
    ) -> tuple[SlotNode, SlotSpec] | None:
        """Require the first `depth` names of `entry` as slots; None (after reporting) when one does not exist."""
        node: SlotNode | None = None
        spec: SlotSpec | None = None
        names = entry.names
        for index in range(depth):
            name = names[index]
            child = roots.get(name) if node is None else node.child(name)
            if child is None:
                if node is None or not node.broken:  # a broken node's unknown $type was reported already
                    self._unknown(entry, node, name, index, roots)
                return None
            spec = self._slot(child, spec, model)
            node = child
        return (node, spec) if node is not None and spec is not None else None

    def _unknown(self, entry: UseEntry, node: SlotNode | None, name: str, index: int, roots: dict) -> None:
        where = "the scenario's top level" if node is None else f"{node.type_path} ({'/'.join(node.type_names)})"
        path = PATH_SEP.join(entry.names)
        leaf = index == len(entry.names) - 1
        children = list(roots if node is None else {**node.declared_children, **node.children})
        candidates = children + (list(node.known) if leaf and node is not None else [])
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if not leaf:
            is_point = node is not None and name in node.known
            what = "a data point, not a child slot" if is_point else "no child slot"
            message = f"{path}: {name!r} is {what} of {where}{hint}"
            self.reporter.error(UsesError, message, entry.file, entry.line_of(index))
        elif self.strict:
            message = f"{path}: unknown data point or child {name!r} of {where}{hint}"
            self.reporter.error(UsesError, message, entry.file, entry.line)
        else:
            message = f"{path}: unknown data point or child {name!r} of {where}{hint} (ignored)"
            self.reporter.warning(message, entry.file, entry.line)

    @staticmethod
    def _slot(node: SlotNode, parent: SlotSpec | None, model: Model) -> SlotSpec:
        spec = model.slots.get(node.type_path)
        if spec is None:
            spec = SlotSpec(
                name=node.name,
                type_path=node.type_path,
                asset_types=node.type_names,
                number=node.number,
                ids=node.ids,
                known_points=dict(node.known),
                source=node.source,
            )
            model.slots[node.type_path] = spec
            (model.roots if parent is None else parent.children)[node.name] = spec
        return spec


def compile_model(
    scenario_doc: Mapping | Any,
    uses_docs: Sequence[Any],
    *,
    base_dir: Path | None = None,
    scenario_file: str | None = None,
    uses_files: Sequence[str | None] | None = None,
    strict: bool = False,
    warnings: list[str] | None = None,
    library: AssetLibrary | None = None,
) -> Model:
    """Compile parsed scenario and uses documents; `base_dir` anchors `$asset_library_path` (default: CWD).

    `library` overrides the scenario's `$asset_library_name`. Problems raise InputError subclasses naming file
    and line; in lenient mode (`strict=False`) unknown uses leaves only add a message to `warnings`.
    """
    reporter = Reporter(warnings=warnings)
    compiler = Compiler(reporter, strict=strict)
    try:
        decl = parse_scenario(scenario_doc, scenario_file, reporter)
        entries: list[UseEntry] = []
        for index, doc in enumerate(uses_docs):
            file = uses_files[index] if uses_files is not None and index < len(uses_files) else None
            try:
                entries.extend(parse_uses(doc, file, reporter))
            except RecursionError:
                raise UsesError("the uses nest too deeply", file) from None
        if library is None:
            library = compiler.open_library(decl, base_dir)
        roots = compiler.resolve(decl, library)
        return compiler.build(roots, entries, scenario_file)
    except RecursionError:
        raise ScenarioError("the scenario nests too deeply", scenario_file) from None


def load_model(
    scenario: str | os.PathLike,
    uses: Sequence[str | os.PathLike],
    *,
    strict: bool = False,
    warnings: list[str] | None = None,
) -> Model:
    """Read a scenario YAML file and its uses YAML files and compile them (the asset library is found next to it)."""
    if isinstance(uses, str | os.PathLike):
        uses = [uses]
    scenario_file = os.fspath(scenario)
    scenario_doc = load_yaml_file(scenario_file, ScenarioError)
    uses_files = [os.fspath(path) for path in uses]
    uses_docs = [load_yaml_file(path, UsesError) for path in uses_files]
    return compile_model(
        scenario_doc,
        uses_docs,
        base_dir=Path(scenario_file).resolve().parent,
        scenario_file=scenario_file,
        uses_files=uses_files,
        strict=strict,
        warnings=warnings,
    )


__all__ = ["Compiler", "Scenario", "SlotNode", "compile_model", "load_model"]


class Scenario:
    """Tiro 0.13's `Scenario` for scripts: built from YAML or Entity classes; says what the uses require."""

    def __init__(
        self,
        *entities: type[Entity],
        asset_library_path: str | None = None,
        asset_library_name: str | None = None,
        **named: type[Entity] | EntityList,
    ) -> None:
        slots: dict[str, EntityList] = {cls.__name__: EntityList(cls, faking_number=1) for cls in entities}
        slots.update(
            {key: value if isinstance(value, EntityList) else EntityList(value) for key, value in named.items()}
        )
        self._library: AssetLibrary | None = None
        self._doc: dict[str, Any] = {}
        if slots:
            self._library = library_from_classes(*{decl.cls for decl in slots.values()}, name="scenario")
            for key, decl in slots.items():
                slot: dict[str, Any] = {"$type": decl.cls.__name__}
                if decl.faking_number is not None and not callable(decl.faking_number):
                    slot["$number"] = decl.faking_number
                if decl.ids is not None:
                    slot["$ids"] = list(decl.ids)
                self._doc[key] = slot
        if asset_library_name is not None:
            self._doc["$asset_library_name"] = asset_library_name
        if asset_library_path is not None:
            self._doc["$asset_library_path"] = asset_library_path
        self._file: str | None = None
        self._uses_docs: list[Any] = []
        self._uses_files: list[str | None] = []
        self._compiled: Model | None = None

    @classmethod
    def from_yaml(cls, scenario: str | os.PathLike, *uses: str | os.PathLike) -> Scenario:
        """Each argument is a Path (read from disk) or a str of YAML text, as in Tiro 0.13."""
        result = cls()
        if isinstance(scenario, os.PathLike):
            result._file = os.fspath(scenario)
            result._doc = load_yaml_file(result._file, ScenarioError)
        else:
            result._doc = parse_yaml(scenario, None, ScenarioError)
        for use in uses:
            result.requires(yaml=use)
        return result

    def requires(self, *paths: str, yaml: str | os.PathLike | Any = None) -> Scenario:
        """Require dotted type paths and/or a uses document (Path, YAML text, or parsed list/mapping)."""
        if paths:
            self._uses_docs.append(list(paths))
            self._uses_files.append(None)
        if yaml is not None:
            if isinstance(yaml, os.PathLike):
                self._uses_docs.append(load_yaml_file(yaml, UsesError))
                self._uses_files.append(os.fspath(yaml))
            else:
                self._uses_docs.append(parse_yaml(yaml, None, UsesError) if isinstance(yaml, str) else yaml)
                self._uses_files.append(None)
        self._compiled = None
        return self

    @property
    def compiled(self) -> Model:
        """The compiled model of what is required so far (lenient: unknown leaves are ignored)."""
        if self._compiled is None:
            base_dir = Path(self._file).resolve().parent if self._file else None
            self._compiled = compile_model(
                self._doc,
                self._uses_docs,
                base_dir=base_dir,
                scenario_file=self._file,
                uses_files=self._uses_files,
                warnings=[],
                library=self._library,
            )
        return self._compiled

    @property
    def uses(self) -> set[str]:
        """Every raw type path the uses named (unknown ones included, as in Tiro 0.13)."""
        return set(self.compiled.uses)

    def all_required_paths(self) -> Iterator[str]:
        """The required type paths, e.g. `DataHall.CRAC.ReturnTemperature`, in uses order."""
        return iter(self.compiled.points)

    def __getattr__(self, name: str) -> _PathSugar:
        if name.startswith("_"):
            raise AttributeError(name)
        return _PathSugar(self, (name,))

    def query_data_point_info(self, type_path: str) -> PointDef | None:
        """The definition of a required data point, or None."""
        spec = self.compiled.points.get(type_path)
        return spec.definition if spec is not None else None


class _PathSugar:
    """`scenario.Room.Rack.FrontTemperature.use()`: Tiro 0.13's attribute-chain way to require a type path."""

    def __init__(self, scenario: Scenario, names: tuple[str, ...]) -> None:
        self._scenario = scenario
        self._names = names

    def __getattr__(self, name: str) -> _PathSugar:
        if name.startswith("_"):
            raise AttributeError(name)
        return _PathSugar(self._scenario, (*self._names, name))

    def use(self) -> Scenario:
        """Require this type path."""
        return self._scenario.requires(PATH_SEP.join(self._names))

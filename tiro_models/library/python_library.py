"""Load a Tiro 0.13 Python asset library by file location and read its Entity classes as asset types."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.machinery
import importlib.util
import itertools
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import LibraryError
from ..spec import ATTRIBUTE, NO_DEFAULT, TELEMETRY, PointDef, Source
from .asset_type import AssetLibrary, AssetType, ChildDecl
from .python_api import Alias, Attribute, DataPointInfo, Entity, EntityList, Telemetry
from .type_mapping import describe_type

_counter = itertools.count()


def _is_under(file: str | None, directory: Path) -> bool:
    if not file:
        return False
    try:
        return Path(file).resolve().is_relative_to(directory)
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _library_import_scope(search_dir: Path, keep_prefix: str) -> Iterator[None]:
    """Let the library import its sibling modules, then undo every trace of that outside `keep_prefix`.

    The directory is on sys.path only while the library's own code runs; sibling modules it imported from there
    are dropped from the import cache afterwards, so another library with same-named files loads its own.
    """
    before = set(sys.modules)
    saved_path = list(sys.path)
    sys.path.insert(0, str(search_dir))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - before:
            if name == keep_prefix or name.startswith(keep_prefix + "."):
                continue
            module = sys.modules.get(name)
            if not _is_under(getattr(module, "__file__", None), search_dir):
                continue
            top = name.partition(".")[0]
            # modules importable without the temporary path entry (e.g. this project itself) stay shared
            if importlib.machinery.PathFinder.find_spec(top, saved_path) is None:
                del sys.modules[name]


def _failure(what: str, location: Path, exc: BaseException) -> LibraryError:
    """A LibraryError for an exception raised by library code, naming the library file and line that raised."""
    file, line = str(location), None
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if _is_under(frame.filename, location if location.is_dir() else location.parent):
            file, line = frame.filename, frame.lineno
            break
    if isinstance(exc, SyntaxError) and exc.filename:
        file, line = exc.filename, exc.lineno
    return LibraryError(f"{what}: {type(exc).__name__}: {exc}", file, line)


class _DeclarationLines:
    """Line numbers of class-body declarations, read once per module source with `ast`."""

    def __init__(self) -> None:
        self._by_file: dict[str, dict[str, dict[str, int]]] = {}

    def lookup(self, file: str | None, qualname: str, name: str) -> int | None:
        """The line declaring `name` in class `qualname` of `file`, or None."""
        if not file:
            return None
        classes = self._by_file.get(file)
        if classes is None:
            classes = self._by_file[file] = self._scan(file)
        return classes.get(qualname, {}).get(name)

    @staticmethod
    def _scan(file: str) -> dict[str, dict[str, int]]:
        try:
            tree = ast.parse(Path(file).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            return {}
        found: dict[str, dict[str, int]] = {}

        def visit(body: list[ast.stmt], prefix: str) -> None:
            for node in body:
                if not isinstance(node, ast.ClassDef):
                    continue
                qualname = prefix + node.name
                lines = found.setdefault(qualname, {"<class>": node.lineno})
                for stmt in node.body:
                    targets: list[ast.expr] = []
                    if isinstance(stmt, ast.AnnAssign):
                        targets = [stmt.target]
                    elif isinstance(stmt, ast.Assign):
                        targets = stmt.targets
                    for target in targets:
                        if isinstance(target, ast.Name):
                            lines.setdefault(target.id, stmt.lineno)
                visit(node.body, qualname + ".")

        visit(tree.body, "")
        return found


def _category(info: DataPointInfo) -> str:
    if isinstance(info, Attribute):
        return ATTRIBUTE
    if isinstance(info, Telemetry):
        return TELEMETRY
    for klass in type(info).__mro__:
        if klass.__name__ in (TELEMETRY, ATTRIBUTE):
            return klass.__name__
    return TELEMETRY


def _seconds(value: Any, where: Source) -> float:
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise LibraryError(f"time_var must be a timedelta or seconds, got {value!r}", where.file, where.line)


def point_from_info(name: str, info: DataPointInfo, default: Any, source: Source) -> PointDef:
    """The PointDef of a Python declaration; `default` is the `= value` (None means no default, as in Tiro 0.13)."""
    if info.faker is not None and not callable(info.faker):
        raise LibraryError(f"data point {name}: faker must be a callable, got {info.faker!r}", source.file, source.line)
    facts = describe_type(info.type)
    decimals = info.decimals if info.decimals is not None else 2
    return PointDef(
        name=name,
        category=_category(info),
        kind=facts.kind,
        ge=facts.ge,
        le=facts.le,
        gt=facts.gt,
        lt=facts.lt,
        choices=facts.choices,
        unit=info.unit,
        default=NO_DEFAULT if default is None else default,
        description=info.description,
        faker=info.faker,
        time_var=_seconds(info.time_var, source),
        decimals=decimals,
        py_type=info.type,
        source=source,
    )


def _number_of(decl: EntityList, where: Source) -> tuple[int, int]:
    number = decl.faking_number
    if number is None:
        return (len(decl.ids), len(decl.ids)) if decl.ids else (1, 1)
    if callable(number):
        # a zero-arg callable decides per parent in Tiro 0.13; one draw gives a representative fixed count
        try:
            number = number()
        except Exception as exc:
            raise LibraryError(f"faking_number raised {type(exc).__name__}: {exc}", where.file, where.line) from None
    from ..scenario import parse_number  # local import: scenario depends on nothing of the library

    parsed, problem = parse_number(number)
    if problem:
        raise LibraryError(f"faking_number: {problem}", where.file, where.line)
    return parsed


class PythonLibrary(AssetLibrary):
    """An asset library loaded from a Python module or package file, under a unique module name."""

    def __init__(self, name: str, location: Path, module: ModuleType, search_dir: Path) -> None:
        self.name = name
        self.origin = str(location)
        self.module = module
        self._search_dir = search_dir
        self._types: dict[type, AssetType] = {}
        self._lines = _DeclarationLines()

    def type_names(self) -> list[str]:
        """Top-level Entity subclasses defined in (or imported into) the library module."""
        return sorted(
            name
            for name, value in vars(self.module).items()
            if isinstance(value, type) and issubclass(value, Entity) and value is not Entity
        )

    def resolve(self, type_name: str) -> AssetType:
        """The asset type for `Class` or `submodule.Class` (as `$type` writes it)."""
        target = self._lookup(type_name)
        if not (isinstance(target, type) and issubclass(target, Entity)):
            raise LookupError(f"{type_name!r} in asset library {self.name!r} ({self.origin}) is not an Entity subclass")
        return self.asset_type(target)

    def _lookup(self, type_name: str) -> Any:
        module_part, _, class_name = type_name.rpartition(".")
        if not class_name or not re.fullmatch(r"[\w.]+", type_name):
            raise LookupError(f"invalid type name {type_name!r}")
        owner: Any = self.module
        if module_part:
            owner = self._submodule(module_part, type_name)
        try:
            return getattr(owner, class_name)
        except AttributeError:
            hint = ", ".join(self.type_names()) or "none"
            raise LookupError(
                f"unknown type {type_name!r}: asset library {self.name!r} ({self.origin}) has no {class_name!r}"
                f" (types defined at its top level: {hint})"
            ) from None

    def _submodule(self, module_part: str, type_name: str) -> Any:
        owner: Any = self.module
        if hasattr(self.module, "__path__"):
            full = f"{self.module.__name__}.{module_part}"
            try:
                with _library_import_scope(self._search_dir, self.module.__name__):
                    return importlib.import_module(full)
            except ModuleNotFoundError as exc:
                if exc.name != full and not full.startswith(f"{exc.name}."):
                    raise _failure(
                        f"submodule {module_part!r} of asset library {self.name!r}", Path(self.origin), exc
                    ) from None
            except Exception as exc:
                raise _failure(
                    f"submodule {module_part!r} of asset library {self.name!r}", Path(self.origin), exc
                ) from None
        for part in module_part.split("."):
            owner = getattr(owner, part, None)
            if owner is None:
                raise LookupError(
                    f"unknown type {type_name!r}: asset library {self.name!r} ({self.origin})"
                    f" has no module {module_part!r}"
                )
        return owner

    def asset_type(self, cls: type[Entity]) -> AssetType:
        """The asset type of an Entity class (cached): points merged over the MRO, derived classes winning."""
        cached = self._types.get(cls)
        if cached is not None:
            return cached
        points: dict[str, PointDef] = {}
        children: dict[str, ChildDecl] = {}
        aliases: dict[str, tuple[Alias, Source]] = {}
        file = _source_file(cls)
        result = AssetType(
            cls.__name__, points, children, Source(file, self._lines.lookup(file, cls.__qualname__, "<class>"))
        )
        # cached before its children are read, so a class that declares itself as a child terminates
        self._types[cls] = result
        try:
            for klass in reversed(cls.__mro__):
                if issubclass(klass, Entity) and klass is not Entity:
                    self._read_class(klass, points, children, aliases)
            for alias_name, (alias, where) in aliases.items():
                target = points.get(alias.name)
                if target is None:
                    raise LibraryError(
                        f"{cls.__name__}.{alias_name}: Alias({alias.name!r}) names no data point of {cls.__name__}",
                        where.file,
                        where.line,
                    )
                points[alias_name] = replace(target, name=alias_name, source=where)
        except BaseException:
            del self._types[cls]
            raise
        return result

    def _read_class(
        self,
        klass: type,
        points: dict[str, PointDef],
        children: dict[str, ChildDecl],
        aliases: dict[str, tuple[Alias, Source]],
    ) -> None:
        file = _source_file(klass)
        own: dict[str, Any] = dict(klass.__dict__)
        annotations = own.get("__annotations__", {})
        declared: dict[str, Any] = {}
        for name, annotation in annotations.items():
            if isinstance(annotation, str):
                annotation = self._evaluate(klass, name, annotation, file)
            declared[name] = annotation
        for name, value in own.items():
            # plain `Name = Telemetry(...)` declares a point too (Tiro 0.13 silently ignored it)
            if name not in declared and isinstance(value, DataPointInfo | EntityList | Alias):
                declared[name] = value
        for name, decl in declared.items():
            where = Source(file, self._lines.lookup(file, klass.__qualname__, name))
            if isinstance(decl, DataPointInfo):
                declared_default = decl.default
                default = declared_default if own.get(name) is decl else own.get(name, declared_default)
                aliases.pop(name, None)
                points[name] = point_from_info(name, decl, default, where)
            elif isinstance(decl, Alias):
                aliases[name] = (decl, where)
            elif isinstance(decl, EntityList):
                children[name] = self._child(name, decl, where)
            elif isinstance(decl, type) and issubclass(decl, Entity):
                children[name] = self._child(name, EntityList(decl), where)
        overrides = own.get("__tiro_defaults__")
        if overrides:
            for name, value in overrides.items():
                if name in points:
                    points[name] = _with_default(points[name], value)

    def _child(self, name: str, decl: EntityList, where: Source) -> ChildDecl:
        if not (isinstance(decl.cls, type) and issubclass(decl.cls, Entity)):
            raise LibraryError(f"EntityList for {name!r} must name an Entity subclass", where.file, where.line)
        ids = tuple(str(i) for i in decl.ids) if decl.ids is not None else None
        return ChildDecl(name, (self.asset_type(decl.cls),), _number_of(decl, where), ids)

    def _evaluate(self, klass: type, name: str, annotation: str, file: str | None) -> Any:
        module = sys.modules.get(klass.__module__)
        namespace = dict(vars(module)) if module is not None else {}
        namespace.update(vars(klass))
        try:
            return eval(annotation, namespace)
        except Exception as exc:
            if "(" not in annotation:
                return None  # an ordinary type annotation that is no declaration: not ours to judge
            line = self._lines.lookup(file, klass.__qualname__, name)
            raise LibraryError(
                f"{klass.__name__}.{name}: cannot evaluate annotation {annotation!r}: {exc}", file, line
            ) from None


def _source_file(klass: type) -> str | None:
    module = sys.modules.get(klass.__module__)
    return getattr(module, "__file__", None)


def _with_default(point: PointDef, value: Any) -> PointDef:
    return replace(point, default=NO_DEFAULT if value is None else value)


def import_python_library(name: str, location: Path, search_dir: Path) -> PythonLibrary:
    """Import the module file or package directory at `location` under a fresh, unique module name."""
    safe_name = re.sub(r"\W", "_", name)
    unique = f"_tiro_library_{next(_counter)}_{safe_name}"
    if location.is_dir():
        init = location / "__init__.py"
        spec = importlib.util.spec_from_file_location(unique, init, submodule_search_locations=[str(location)])
    else:
        spec = importlib.util.spec_from_file_location(unique, location)
    if spec is None or spec.loader is None:
        raise LibraryError(f"asset library {name!r}: cannot import {location}", str(location))
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    try:
        with _library_import_scope(search_dir, unique):
            spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(unique, None)
        for key in [key for key in sys.modules if key.startswith(unique + ".")]:
            del sys.modules[key]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _failure(f"asset library {name!r} failed to import", location, exc) from None
    return PythonLibrary(name, location, module, search_dir)


def library_from_classes(*classes: type[Entity], name: str = "inline") -> PythonLibrary:
    """A library of Entity classes defined in running code (Tiro 0.13's `Scenario(*entities)` use), keyed by name."""
    namespace = ModuleType(name)
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, Entity)):
            raise TypeError(f"{cls!r} is not an Entity subclass")
        setattr(namespace, cls.__name__, cls)
    file = _source_file(classes[0]) if classes else None
    location = Path(file) if file else Path.cwd()
    return PythonLibrary(name, location, namespace, location.parent)

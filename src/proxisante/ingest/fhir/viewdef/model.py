"""A ViewDefinition (JSON) checked and parsed into a tree the SQL generator can trust.

Every error names the path of the bad element (``select[1].unionAll[0].column[2].name``), so that
an author can fix a view file without reading the generator. FHIRPath expressions are parsed here,
once; compiling them to SQL is :mod:`.query`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxisante.ingest.fhir.viewdef import types
from proxisante.ingest.fhir.viewdef.ast import Node
from proxisante.ingest.fhir.viewdef.errors import ViewDefinitionError
from proxisante.ingest.fhir.viewdef.parser import FhirPathSyntaxError, parse

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SELECT_KEYS = frozenset({"column", "select", "forEach", "forEachOrNull", "repeat", "unionAll"})
_COLUMN_KEYS = frozenset({"name", "path", "type", "collection", "description", "tag"})
_COMMON_KEYS = frozenset({"id", "extension", "modifierExtension"})
_ITERATIONS = ("forEach", "forEachOrNull", "repeat")


@dataclass(frozen=True)
class Expression:
    """A parsed FHIRPath expression with its text and the view path it came from."""

    text: str
    tree: Node
    location: str


@dataclass(frozen=True)
class Column:
    name: str
    path: Expression
    type: str | None
    collection: bool
    location: str


@dataclass(frozen=True)
class Select:
    """One select node: optional iteration, its columns, nested selects, unionAll branches."""

    location: str
    iteration: str | None  # forEach, forEachOrNull or repeat
    paths: tuple[Expression, ...]  # one for forEach/forEachOrNull, one or more for repeat
    columns: tuple[Column, ...]
    selects: tuple[Select, ...]
    union: tuple[Select, ...]

    def names(self) -> list[str]:
        """The output columns of this node, in order: own columns, nested selects, unionAll."""
        names = [c.name for c in self.columns]
        for child in self.selects:
            names += child.names()
        if self.union:
            names += self.union[0].names()
        return names


@dataclass(frozen=True)
class ConstantDef:
    name: str
    type: str  # FHIR type, from the value[x] suffix
    value: Any


@dataclass(frozen=True)
class View:
    resource: str
    constants: tuple[ConstantDef, ...]
    where: tuple[Expression, ...]
    root: Select  # the view's own select list, as a node without columns


def _fail(location: str, message: str) -> ViewDefinitionError:
    return ViewDefinitionError(f"{location}: {message}" if location else message)


def _join(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent and not child.startswith("[") else parent + child


def _expression(value: Any, location: str) -> Expression:
    if not isinstance(value, str):
        raise _fail(location, f"a FHIRPath expression must be a string, not {type(value).__name__} ({value!r})")
    try:
        return Expression(value, parse(value), location)
    except FhirPathSyntaxError as exc:
        raise _fail(location, f"invalid FHIRPath: {exc}") from None


def _list(value: Any, location: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise _fail(location, f"must be a list, not {type(value).__name__}")
    return value


def _object(value: Any, location: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(location, f"must be an object, not {type(value).__name__}")
    unknown = sorted(set(value) - allowed - _COMMON_KEYS)
    if unknown:
        raise _fail(location, f"unknown element(s) {', '.join(unknown)} (expected {', '.join(sorted(allowed))})")
    return value


def _column(raw: Any, location: str) -> Column:
    obj = _object(raw, location, _COLUMN_KEYS)
    name = obj.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(_join(location, "name"), f"a column name must match {_NAME.pattern}, got {name!r}")
    if "path" not in obj:
        raise _fail(location, f"column {name!r} has no path")
    fhir_type = obj.get("type")
    if fhir_type is not None and not isinstance(fhir_type, str):
        raise _fail(_join(location, "type"), f"must be a type name, got {fhir_type!r}")
    collection = obj.get("collection", False)
    if not isinstance(collection, bool):
        raise _fail(_join(location, "collection"), f"must be true or false, got {collection!r}")
    return Column(
        name,
        _expression(obj["path"], _join(location, "path")),
        types.normalise(fhir_type) if fhir_type else None,
        collection,
        location,
    )


def _select(raw: Any, location: str) -> Select:
    obj = _object(raw, location, _SELECT_KEYS)
    present = [key for key in _ITERATIONS if key in obj]
    if len(present) > 1:
        raise _fail(location, f"{' and '.join(present)} cannot be combined in one select")
    iteration = present[0] if present else None
    paths: tuple[Expression, ...] = ()
    if iteration == "repeat":
        raw_paths = _list(obj["repeat"], _join(location, "repeat"))
        if not raw_paths:
            raise _fail(_join(location, "repeat"), "needs at least one path")
        paths = tuple(_expression(p, f"{_join(location, 'repeat')}[{i}]") for i, p in enumerate(raw_paths))
    elif iteration is not None:
        paths = (_expression(obj[iteration], _join(location, iteration)),)
    columns = tuple(
        _column(c, f"{_join(location, 'column')}[{i}]")
        for i, c in enumerate(_list(obj.get("column", []), _join(location, "column")))
    )
    selects = tuple(
        _select(s, f"{_join(location, 'select')}[{i}]")
        for i, s in enumerate(_list(obj.get("select", []), _join(location, "select")))
    )
    union = tuple(
        _select(s, f"{_join(location, 'unionAll')}[{i}]")
        for i, s in enumerate(_list(obj.get("unionAll", []), _join(location, "unionAll")))
    )
    node = Select(location, iteration, paths, columns, selects, union)
    _check_union(node)
    return node


def _check_union(node: Select) -> None:
    if not node.union:
        return
    first = node.union[0].names()
    for branch in node.union[1:]:
        if branch.names() != first:
            raise _fail(
                branch.location,
                f"unionAll branches must have the same columns in the same order: {first} vs {branch.names()}",
            )


def _constant(raw: Any, location: str) -> ConstantDef:
    if not isinstance(raw, Mapping):
        raise _fail(location, "a constant must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(_join(location, "name"), f"a constant name must match {_NAME.pattern}, got {name!r}")
    values = [key for key in raw if key.startswith("value")]
    if len(values) != 1:
        raise _fail(location, f"constant {name!r} needs exactly one value[x] element, found {len(values)}")
    key = values[0]
    fhir_type = key[5:6].lower() + key[6:]
    if fhir_type not in types.PRIMITIVES:
        raise _fail(_join(location, key), f"constant {name!r}: {key} is not a primitive FHIR type")
    return ConstantDef(name, fhir_type, raw[key])


def parse_view(view: Any) -> View:
    """Check and parse a ViewDefinition; raises :class:`ViewDefinitionError` naming the bad element."""
    if not isinstance(view, Mapping):
        raise _fail("", f"a ViewDefinition must be a JSON object, not {type(view).__name__}")
    resource = view.get("resource")
    if not isinstance(resource, str) or not _NAME.match(resource):
        raise _fail("resource", f"a ViewDefinition needs a resource type, got {resource!r}")
    if "select" not in view:
        raise _fail("select", "a ViewDefinition needs at least one select")
    constants = tuple(_constant(c, f"constant[{i}]") for i, c in enumerate(_list(view.get("constant", []), "constant")))
    names = [c.name for c in constants]
    if len(set(names)) != len(names):
        raise _fail("constant", f"duplicate constant names in {names}")
    where = []
    for i, clause in enumerate(_list(view.get("where", []), "where")):
        obj = _object(clause, f"where[{i}]", frozenset({"path", "description"}))
        if "path" not in obj:
            raise _fail(f"where[{i}]", "a where clause needs a path")
        where.append(_expression(obj["path"], f"where[{i}].path"))
    selects = tuple(f"select[{i}]" for i in range(len(_list(view["select"], "select"))))
    if not selects:
        raise _fail("select", "a ViewDefinition needs at least one select")
    root = Select("", None, (), (), tuple(_select(s, loc) for s, loc in zip(view["select"], selects, strict=True)), ())
    output = root.names()
    if not output:
        raise _fail("select", "the view has no column")
    duplicates = sorted({n for n in output if output.count(n) > 1})
    if duplicates:
        raise _fail("select", f"duplicate column name(s) {', '.join(duplicates)}")
    return View(resource, constants, tuple(where), root)

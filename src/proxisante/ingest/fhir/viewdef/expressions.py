"""FHIRPath syntax tree → one DuckDB SQL expression, evaluated for every row at once.

A FHIRPath value is a collection. The generator gives each sub-expression one of two shapes:

* ``nodes``: a ``JSON[]`` list of FHIR elements, as navigation produces them (``name.given``). Its
  FHIR type is unknown unless ``ofType()`` said it; ``node`` is set when the collection is known to
  hold at most one element, given as a JSON scalar expression (the focus, ``first()``), so that
  navigation from it needs no list functions.
* ``value``: a typed SQL scalar (VARCHAR, BOOLEAN, BIGINT, DOUBLE) for literals, constants,
  comparisons, arithmetic and functions that return one value; SQL NULL is the empty collection.

Navigation is ``json_extract`` on each node with arrays flattened (FHIR JSON stores a repeating
element as an array, a single one as a scalar); ``where()`` is ``list_filter`` with a lambda whose
parameter is ``$this``; functions that need one value take the single element of the collection, or
raise a run-time error (DuckDB ``error()``) naming the view element when there are several, as the
FHIRPath singleton rule says. Booleans use SQL's three-valued logic, which is FHIRPath's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from proxisante.ingest.fhir.viewdef import types
from proxisante.ingest.fhir.viewdef.ast import (
    Binary,
    Call,
    Constant,
    Index,
    Literal,
    Member,
    Node,
    Quantity,
    TypeName,
    TypeOp,
    Unary,
    Variable,
)

# The prefix of every run-time error message raised by generated SQL; views.run_view turns a DuckDB
# error carrying it into a ViewDefinitionError.
RUNTIME_ERROR = "ViewDefinitionError: "
EMPTY = "[]::JSON[]"
_NUMERIC_JSON = "('BIGINT', 'UBIGINT', 'DOUBLE')"


class FhirPathError(ValueError):
    """A FHIRPath expression that parses but cannot be compiled (unknown function, constant, type)."""


@dataclass(frozen=True)
class Sql:
    """A compiled sub-expression: its SQL text, shape (``nodes`` or ``value``) and FHIR type if known."""

    text: str
    shape: str
    type: str | None = None
    node: str | None = None  # nodes shape, at most one element: that element as a JSON expression
    # nodes shape, children of one node: the child as stored (JSON scalar, array or NULL), which
    # reads a single value without building a list (see Compiler.single).
    raw: str | None = None

    @property
    def is_nodes(self) -> bool:
        return self.shape == "nodes"


@dataclass
class Scope:
    """What an expression is evaluated against: the focus node, ``%rowIndex``, ``%resource``, constants.

    ``where`` describes the view element, for error messages (``select[0].column[1].path``)."""

    focus: str
    index: str
    resource: str
    constants: Mapping[str, Sql]
    where: str
    counter: list[int] = field(default_factory=lambda: [0])
    # Children of the root resource extracted once per resource by the query (key → column), and
    # the prefix that reaches those columns from this scope (``__b.`` in the select list).
    root_fields: dict[str, str] | None = None
    root_prefix: str = ""

    def fresh(self) -> str:
        """A lambda parameter name unique in the whole query (view columns never start with ``_``)."""
        self.counter[0] += 1
        return f"__x{self.counter[0]}"


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def runtime_error(message: str) -> str:
    """SQL that raises `message` when evaluated (and only then)."""
    return f"error({quote(RUNTIME_ERROR + message)})"


def _json_key(name: str) -> str:
    if not name or any(char in name for char in "\"'\\"):
        raise FhirPathError(f"unsupported element name {name!r}")
    return f'"{name}"'


def navigate_node(node: str, name: str, var: str) -> str:
    """``JSON[]`` of the child elements `name` of the JSON node `node` (empty when `node` is NULL or
    has no such child). The child is extracted once; whether it is an array is read from its first
    character, which costs no second JSON parse."""
    return let(f"json_extract({node}, '$.{_json_key(name)}')", var, fragment_nodes(var, var + "e"))


def fragment_nodes(fragment: str, var: str) -> str:
    """``JSON[]`` of the JSON value `fragment`: its elements when it is an array (JSON nulls, which
    FHIR writes only to align an array with its ``_name`` extensions, dropped), else itself, or empty
    when NULL. Navigation from the root resource uses fragments the query extracts once per
    resource, so that the whole resource is parsed once."""
    return (
        f"CASE WHEN {fragment} IS NULL THEN {EMPTY} "
        f"WHEN starts_with(CAST({fragment} AS VARCHAR), '[') "
        f"THEN list_filter(json_extract({fragment}, '$[*]'), lambda {var}: CAST({var} AS VARCHAR) <> 'null') "
        f"ELSE [{fragment}] END"
    )


def let(value: str, var: str, body: str) -> str:
    """SQL evaluating `body` with `var` bound to `value`, so that `value` is computed once."""
    return f"list_transform([{value}], lambda {var}: {body})[1]"


_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def bind(value: str, var: str, body: Callable[[str], str]) -> str:
    """`body` applied to `value`, through :func:`let` unless `value` is a plain column or variable
    (SQL has no local variables; repeating a JSON extraction would parse the JSON again)."""
    if _SIMPLE.match(value):
        return body(value)
    return let(value, var, body(var))


def json_to(node: str, fhir_type: str | None, var: str = "__v") -> str:
    """The JSON scalar `node` as a SQL value of `fhir_type` (NULL when it is not of that type);
    `var` is a lambda parameter name free in the query, used when `node` must be read twice."""
    fam = types.family(fhir_type)
    if fam == "boolean":
        return bind(node, var, lambda v: f"(CASE WHEN json_type({v}) = 'BOOLEAN' THEN CAST({v} AS BOOLEAN) END)")
    if fam == "integer":
        return f"TRY_CAST(json_extract_string({node}, '$') AS BIGINT)"
    if fam == "decimal":
        return f"TRY_CAST(json_extract_string({node}, '$') AS DOUBLE)"
    if fam == "string":
        return f"json_extract_string({node}, '$')"
    return node


def cast_value(sql: Sql, fhir_type: str | None) -> str:
    """A value-shaped `sql` converted to the DuckDB type of `fhir_type`."""
    target = types.duckdb_type(fhir_type)
    if target == types.duckdb_type(sql.type) or fhir_type is None:
        return sql.text
    if target == "JSON":
        return f"to_json({sql.text})"
    return f"TRY_CAST({sql.text} AS {target})"


class Compiler:
    """Compiles FHIRPath syntax trees to SQL within one :class:`Scope`."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    # -- entry points ------------------------------------------------------------------------------
    def compile(self, node: Node) -> Sql:
        method: Callable[[Node], Sql] | None = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise FhirPathError(f"unsupported FHIRPath construct {type(node).__name__}")
        return method(node)

    def focus(self) -> Sql:
        f = self.scope.focus
        return Sql(f"(CASE WHEN {f} IS NULL THEN {EMPTY} ELSE [{f}] END)", "nodes", node=f)

    def within(self, var: str) -> Compiler:
        """A compiler whose focus is the lambda parameter `var` (``$this`` inside ``where()``)."""
        return Compiler(replace(self.scope, focus=var))

    # -- shape conversions --------------------------------------------------------------------------
    def nodes(self, sql: Sql) -> str:
        """`sql` as a ``JSON[]`` list."""
        if sql.is_nodes:
            return sql.text
        return f"(CASE WHEN {sql.text} IS NULL THEN {EMPTY} ELSE [to_json({sql.text})] END)"

    def single(self, sql: Sql, what: str) -> str:
        """The JSON element of a nodes-shaped `sql`: NULL when empty, a run-time error when several."""
        if sql.node is not None:
            return sql.node
        message = f"{self.scope.where}: {what} needs a single value but the collection has several"
        error = runtime_error(message)
        if sql.raw is not None:  # one child: no list to build unless it is an array
            return bind(
                sql.raw,
                self.scope.fresh(),
                lambda v: (
                    f"(CASE WHEN starts_with(CAST({v} AS VARCHAR), '[') THEN (CASE WHEN json_array_length({v}) > 1 "
                    f"THEN {error} ELSE json_extract({v}, '$[0]') END) ELSE {v} END)"
                ),
            )
        var = self.scope.fresh()
        return let(sql.text, var, f"CASE WHEN len({var}) > 1 THEN {error} ELSE {var}[1] END")

    def value(self, sql: Sql, fhir_type: str | None = None, what: str = "this expression") -> str:
        """`sql` as one SQL value of `fhir_type` (default: its own type)."""
        wanted = fhir_type or sql.type
        if not sql.is_nodes:
            return cast_value(sql, fhir_type) if fhir_type else sql.text
        return json_to(self.single(sql, what), wanted, self.scope.fresh())

    def boolean(self, sql: Sql, what: str) -> str:
        """`sql` as a SQL boolean by FHIRPath's singleton rule (one non-boolean element counts as true)."""
        if not sql.is_nodes:
            if sql.type == "boolean":
                return sql.text
            return f"(CASE WHEN {sql.text} IS NOT NULL THEN true END)"
        return bind(
            self.single(sql, what),
            self.scope.fresh(),
            lambda v: (
                f"(CASE WHEN json_type({v}) = 'BOOLEAN' THEN CAST({v} AS BOOLEAN) WHEN {v} IS NOT NULL THEN true END)"
            ),
        )

    def strict_boolean(self, sql: Sql, what: str) -> str:
        """`sql` as a SQL boolean, a run-time error when it holds anything but one boolean (``where``)."""
        if not sql.is_nodes:
            if sql.type != "boolean":
                raise FhirPathError(f"{what} must be boolean, not {sql.type}")
            return sql.text
        if sql.type is not None and sql.type != "boolean":
            raise FhirPathError(f"{what} must be boolean, not {sql.type}")
        message = f"{self.scope.where}: {what} must be a single boolean"
        return bind(
            sql.text,
            self.scope.fresh(),
            lambda items: (
                f"(CASE WHEN len({items}) = 0 THEN NULL "
                f"WHEN len({items}) = 1 AND json_type({items}[1]) = 'BOOLEAN' THEN CAST({items}[1] AS BOOLEAN) "
                f"ELSE {runtime_error(message)} END)"
            ),
        )

    # -- terms --------------------------------------------------------------------------------------
    def _literal(self, node: Literal) -> Sql:
        if node.type == "empty":
            return Sql(EMPTY, "nodes")
        if node.type == "boolean":
            return Sql("true" if node.value else "false", "value", "boolean")
        if node.type == "integer":
            return Sql(f"CAST({node.value} AS BIGINT)", "value", "integer")
        if node.type == "decimal":
            return Sql(f"CAST({node.value!r} AS DOUBLE)", "value", "decimal")
        return Sql(quote(str(node.value)), "value", node.type)

    def _quantity(self, node: Quantity) -> Sql:
        raise FhirPathError(f"quantity literals ({node.value:g} {node.unit!r}) are not supported")

    def _variable(self, node: Variable) -> Sql:
        if node.name == "this":
            return self.focus()
        raise FhirPathError(f"${node.name} is not supported")

    def _constant(self, node: Constant) -> Sql:
        if node.name == "rowIndex":
            return Sql(self.scope.index, "value", "integer")
        if node.name in ("resource", "rootResource", "context"):
            r = self.scope.resource
            return Sql(f"[{r}]", "nodes", node=r)
        if node.name not in self.scope.constants:
            raise FhirPathError(f"undefined constant %{node.name}")
        return self.scope.constants[node.name]

    def _member(self, node: Member) -> Sql:
        parent = self.focus() if node.target is None else self.compile(node.target)
        return self.navigate(parent, node.name)

    def navigate(self, parent: Sql, name: str) -> Sql:
        """The children `name` of every element of `parent`."""
        if not parent.is_nodes:
            return Sql(EMPTY, "nodes")  # primitives have no children
        scope = self.scope
        if parent.node == scope.resource and scope.root_fields is not None:
            _json_key(name)
            column = scope.root_fields.setdefault(name, f"__r{len(scope.root_fields) + 1}")
            raw = scope.root_prefix + column
            return Sql(fragment_nodes(raw, scope.fresh()), "nodes", raw=raw)
        if parent.node is not None:
            raw = f"json_extract({parent.node}, '$.{_json_key(name)}')"
            return Sql(navigate_node(parent.node, name, self.scope.fresh()), "nodes", raw=raw)
        var = self.scope.fresh()
        inner = navigate_node(var, name, self.scope.fresh())
        return Sql(f"flatten(list_transform({parent.text}, lambda {var}: {inner}))", "nodes")

    def _index(self, node: Index) -> Sql:
        target = self.compile(node.target)
        index = self.compile(node.index)
        if index.is_nodes or types.family(index.type) != "integer":
            raise FhirPathError("an index must be an integer")
        i = index.text
        if not target.is_nodes:
            return Sql(f"(CASE WHEN {i} = 0 THEN {target.text} END)", "value", target.type)
        return Sql(f"list_slice({target.text}, {i} + 1, {i} + 1)", "nodes", target.type)

    def _typeop(self, node: TypeOp) -> Sql:
        return self.call(node.op, self.compile(node.operand), (node.type,), node.operand)

    def _typename(self, node: TypeName) -> Sql:
        raise FhirPathError(f"type name {node.name} used as a value")

    # -- operators ----------------------------------------------------------------------------------
    def _unary(self, node: Unary) -> Sql:
        operand = self.compile(node.operand)
        fhir_type = operand.type if types.family(operand.type) in ("integer", "decimal") else "decimal"
        text = self.value(operand, fhir_type, f"'{node.op}'")
        return Sql(f"(-{text})" if node.op == "-" else text, "value", fhir_type)

    def _binary(self, node: Binary) -> Sql:
        left, right = self.compile(node.left), self.compile(node.right)
        op = node.op
        if op in ("and", "or", "xor", "implies"):
            return self.logic(op, left, right)
        if op in ("=", "!=", "~", "!~"):
            return self.equality(op, left, right)
        if op in ("<", ">", "<=", ">="):
            return self.ordering(op, left, right)
        if op in ("+", "-", "*", "/", "div", "mod", "&"):
            return self.arithmetic(op, left, right)
        if op == "|":
            return Sql(f"list_distinct(list_concat({self.nodes(left)}, {self.nodes(right)}))", "nodes")
        if op in ("in", "contains"):
            item, collection = (left, right) if op == "in" else (right, left)
            return self.membership(item, collection)
        raise FhirPathError(f"unsupported operator {op!r}")

    def logic(self, op: str, left: Sql, right: Sql) -> Sql:
        a, b = self.boolean(left, f"the left operand of '{op}'"), self.boolean(right, f"the right operand of '{op}'")
        if op == "and":
            text = f"({a} AND {b})"
        elif op == "or":
            text = f"({a} OR {b})"
        elif op == "xor":
            text = f"({a} <> {b})"
        else:  # implies: false → true, true → b, empty → true if b else empty
            text = f"(CASE WHEN {a} THEN {b} WHEN NOT {a} THEN true WHEN {b} THEN true END)"
        return Sql(text, "value", "boolean")

    def _common_type(self, left: Sql, right: Sql) -> str | None:
        """The type both operands are compared in; None when neither side says (decided at run time)."""
        families = {types.family(left.type), types.family(right.type)} - {None}
        if not families:
            return None
        if families == {"integer", "decimal"}:
            return "decimal"
        if len(families) > 1:
            return "string"
        return families.pop()

    def _dynamic(self, a: str, op: str, b: str) -> str:
        """Compare two JSON scalars of unknown types: as numbers when both are, else as text."""
        return bind(
            a,
            self.scope.fresh(),
            lambda x: bind(
                b,
                self.scope.fresh(),
                lambda y: (
                    f"(CASE WHEN json_type({x}) IN {_NUMERIC_JSON} AND json_type({y}) IN {_NUMERIC_JSON} "
                    f"THEN CAST({x} AS DOUBLE) {op} CAST({y} AS DOUBLE) "
                    f"ELSE json_extract_string({x}, '$') {op} json_extract_string({y}, '$') END)"
                ),
            ),
        )

    def _scalar_pair(self, left: Sql, right: Sql, what: str) -> tuple[str, str, str | None]:
        """Both operands as single SQL values of a common type (JSON scalars if none is known)."""
        common = self._common_type(left, right)
        if common is None:
            return self.single(self._as_nodes(left), what), self.single(self._as_nodes(right), what), None
        return self.value(left, common, what), self.value(right, common, what), common

    def _as_nodes(self, sql: Sql) -> Sql:
        return sql if sql.is_nodes else Sql(self.nodes(sql), "nodes", sql.type)

    def _compare(self, a: str, op: str, b: str, common: str | None) -> str:
        if op == "~":  # equivalence: strings ignore case and surrounding spaces
            if common is None:
                a, b, common = f"json_extract_string({a}, '$')", f"json_extract_string({b}, '$')", "string"
            if common == "string":
                return f"(lower(trim({a})) = lower(trim({b})))"
            op = "="
        if common is None:
            return self._dynamic(a, op, b)
        return f"({a} {op} {b})"

    def equality(self, op: str, left: Sql, right: Sql) -> Sql:
        """FHIRPath ``=``/``!=`` (and ``~``/``!~``): empty when a side is empty (equivalence: two
        empties are equivalent), false when the sizes differ, element by element otherwise. A
        collection of several is bound once (:func:`let`) and compared through its first element
        when the other side holds one."""
        fast = [x for x in (left, right) if x.is_nodes and x.node is None and x.raw is not None]
        if fast:  # children of one node: compared as scalars unless one of them is an array
            return self._equality_of_children(op, left, right)
        equivalence = op in ("~", "!~")
        bound: list[tuple[str, str]] = []  # (list SQL, variable) of the collections of several

        def one(sql: Sql) -> Sql:
            if sql.is_nodes and sql.node is None:
                var = self.scope.fresh()
                bound.append((sql.text, var))
                return Sql(var, "nodes", sql.type, node=f"{var}[1]")
            return sql

        lhs, rhs = one(left), one(right)
        a, b, common = self._scalar_pair(lhs, rhs, f"'{op}'")
        text = self._compare(a, "~" if equivalence else "=", b, common)
        if bound:
            ln, rn = self.nodes(lhs), self.nodes(rhs)
            empty = (
                f"WHEN len({ln}) = 0 AND len({rn}) = 0 THEN true WHEN len({ln}) = 0 OR len({rn}) = 0 THEN false"
                if equivalence
                else f"WHEN len({ln}) = 0 OR len({rn}) = 0 THEN NULL"
            )
            v, w = self.scope.fresh(), self.scope.fresh()
            text = (
                f"(CASE {empty} WHEN len({ln}) <> len({rn}) THEN false WHEN len({ln}) = 1 THEN {text} "
                f"ELSE list_transform({ln}, lambda {v}: CAST({v} AS VARCHAR)) "
                f"= list_transform({rn}, lambda {w}: CAST({w} AS VARCHAR)) END)"
            )
            for items, var in reversed(bound):
                text = let(items, var, text)
        elif equivalence:
            text = f"coalesce({text}, {a} IS NULL AND {b} IS NULL)"
        if op in ("!=", "!~"):
            text = f"(NOT {text})"
        return Sql(text, "value", "boolean")

    def _equality_of_children(self, op: str, left: Sql, right: Sql) -> Sql:
        """Equality where an operand is the child of one node (``system = 'x'`` in a ``where()``):
        the child is bound once; when no operand is an array the scalar comparison is the answer,
        else the general collection comparison decides."""
        bound: list[tuple[str, str]] = []

        def split(sql: Sql) -> tuple[Sql, Sql]:
            if not (sql.is_nodes and sql.node is None and sql.raw is not None):
                return sql, sql
            var = self.scope.fresh()
            bound.append((sql.raw, var))
            scalar = Sql(f"[{var}]", "nodes", sql.type, node=var)
            return scalar, Sql(fragment_nodes(var, self.scope.fresh()), "nodes", sql.type)

        (ls, lg), (rs, rg) = split(left), split(right)
        scalar, general = self.equality(op, ls, rs).text, self.equality(op, lg, rg).text
        arrays = " OR ".join(f"starts_with(CAST({var} AS VARCHAR), '[')" for _, var in bound)
        text = f"(CASE WHEN {arrays} THEN {general} ELSE {scalar} END)"
        for raw, var in reversed(bound):
            text = let(raw, var, text)
        return Sql(text, "value", "boolean")

    def ordering(self, op: str, left: Sql, right: Sql) -> Sql:
        a, b, common = self._scalar_pair(left, right, f"'{op}'")
        if common == "boolean":
            raise FhirPathError(f"'{op}' cannot compare booleans")
        return Sql(self._compare(a, op, b, common), "value", "boolean")

    def arithmetic(self, op: str, left: Sql, right: Sql) -> Sql:
        what = f"'{op}'"
        if op == "&":
            a, b = self.value(left, "string", what), self.value(right, "string", what)
            return Sql(f"(coalesce({a}, '') || coalesce({b}, ''))", "value", "string")
        common = self._common_type(left, right)
        if op == "+" and common == "string":
            return Sql(
                f"({self.value(left, 'string', what)} || {self.value(right, 'string', what)})", "value", "string"
            )
        if common not in ("integer", "decimal"):
            common = "decimal"  # untyped JSON operands of arithmetic are numbers
        if op == "/":
            common = "decimal"
        a, b = self.value(left, common, what), self.value(right, common, what)
        if op in ("/", "div", "mod"):
            sql_op = {"/": "/", "div": "//", "mod": "%"}[op]
            if op == "div" and common == "decimal":
                return Sql(f"(CASE WHEN {b} <> 0 THEN CAST(trunc({a} / {b}) AS BIGINT) END)", "value", "integer")
            return Sql(f"(CASE WHEN {b} <> 0 THEN {a} {sql_op} {b} END)", "value", common)
        return Sql(f"({a} {op} {b})", "value", common)

    def membership(self, item: Sql, collection: Sql) -> Sql:
        one = self.single(self._as_nodes(item), "'in'/'contains'")
        var = self.scope.fresh()
        test = (
            self._dynamic(var, "=", one)
            if item.type is None
            else f"({json_to(var, item.type)} = {json_to(one, item.type, self.scope.fresh())})"
        )
        nodes = self.nodes(collection)
        text = f"(CASE WHEN {one} IS NULL THEN NULL ELSE len(list_filter({nodes}, lambda {var}: {test})) > 0 END)"
        return Sql(text, "value", "boolean")

    # -- functions ------------------------------------------------------------------------------------
    def _call(self, node: Call) -> Sql:
        target = self.focus() if node.target is None else self.compile(node.target)
        return self.call(node.name, target, node.args, node.target)

    def call(self, name: str, target: Sql, args: tuple[Node, ...], target_node: Node | None) -> Sql:
        method = getattr(self, f"fn_{name}", None)
        if method is None:
            raise FhirPathError(f"unsupported FHIRPath function {name}()")
        return method(target, args, target_node)

    def _arity(self, name: str, args: tuple[Node, ...], low: int, high: int) -> None:
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise FhirPathError(f"{name}() takes {expected} argument(s), got {len(args)}")

    def _lambda(self, target: Sql, body: Node) -> tuple[str, Sql]:
        var = self.scope.fresh()
        return var, self.within(var).compile(body)

    def fn_where(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("where", args, 1, 1)
        var, cond = self._lambda(target, args[0])
        test = self.within(var).boolean(cond, "the where() criterion")
        return Sql(f"list_filter({self.nodes(target)}, lambda {var}: {test})", "nodes", target.type)

    def fn_select(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("select", args, 1, 1)
        var, projection = self._lambda(target, args[0])
        inner = self.within(var).nodes(projection)
        return Sql(f"flatten(list_transform({self.nodes(target)}, lambda {var}: {inner}))", "nodes", projection.type)

    def fn_exists(self, target: Sql, args: tuple[Node, ...], node: Node | None) -> Sql:
        self._arity("exists", args, 0, 1)
        if args:
            target = self.fn_where(target, args, node)
        if not target.is_nodes:
            return Sql(f"({target.text} IS NOT NULL)", "value", "boolean")
        return Sql(f"(len({target.text}) > 0)", "value", "boolean")

    def fn_empty(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("empty", args, 0, 0)
        if not target.is_nodes:
            return Sql(f"({target.text} IS NULL)", "value", "boolean")
        return Sql(f"(len({target.text}) = 0)", "value", "boolean")

    def fn_all(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("all", args, 1, 1)
        var, cond = self._lambda(target, args[0])
        test = self.within(var).boolean(cond, "the all() criterion")
        return Sql(
            f"(len(list_filter({self.nodes(target)}, lambda {var}: NOT coalesce({test}, false))) = 0)",
            "value",
            "boolean",
        )

    def fn_count(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("count", args, 0, 0)
        return Sql(f"CAST(len({self.nodes(target)}) AS BIGINT)", "value", "integer")

    def fn_first(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("first", args, 0, 0)
        if not target.is_nodes or target.node is not None:
            return target
        if target.raw is not None:
            first = bind(
                target.raw,
                self.scope.fresh(),
                lambda v: (
                    f"(CASE WHEN starts_with(CAST({v} AS VARCHAR), '[') THEN json_extract({v}, '$[0]') ELSE {v} END)"
                ),
            )
            return Sql(f"({target.text})[1:1]", "nodes", target.type, node=first)
        return Sql(f"({target.text})[1:1]", "nodes", target.type, node=f"({target.text})[1]")

    def fn_last(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("last", args, 0, 0)
        if not target.is_nodes or target.node is not None:
            return target
        return Sql(f"({target.text})[-1:]", "nodes", target.type, node=f"({target.text})[-1]")

    def fn_single(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("single", args, 0, 0)
        if not target.is_nodes or target.node is not None:
            return target
        one = self.single(target, "single()")
        return Sql(f"(CASE WHEN {one} IS NULL THEN {EMPTY} ELSE [{one}] END)", "nodes", target.type, node=one)

    def _slice(self, target: Sql, args: tuple[Node, ...], name: str, start: str, stop: str) -> Sql:
        arity = 1 if "{n}" in start + stop else 0
        self._arity(name, args, arity, arity)
        if args:
            n = self.compile(args[0])
            if n.is_nodes or types.family(n.type) != "integer":
                raise FhirPathError(f"{name}() takes an integer")
            start, stop = start.replace("{n}", n.text), stop.replace("{n}", n.text)
        return Sql(f"list_slice({self.nodes(target)}, {start}, {stop})", "nodes", target.type)

    def fn_tail(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        return self._slice(target, args, "tail", "2", "-1")

    def fn_skip(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        return self._slice(target, args, "skip", "greatest({n}, 0) + 1", "-1")

    def fn_take(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        return self._slice(target, args, "take", "1", "greatest({n}, 0)")

    def fn_distinct(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("distinct", args, 0, 0)
        return Sql(f"list_distinct({self.nodes(target)})", "nodes", target.type)

    def fn_not(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("not", args, 0, 0)
        return Sql(f"(NOT {self.boolean(target, 'not()')})", "value", "boolean")

    def fn_join(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("join", args, 0, 1)
        separator = "''"
        if args:
            sep = self.compile(args[0])
            separator = f"coalesce({self.value(sep, 'string', 'join() separator')}, '')"
        var = self.scope.fresh()
        texts = f"list_transform({self.nodes(target)}, lambda {var}: json_extract_string({var}, '$'))"
        return Sql(f"array_to_string({texts}, {separator})", "value", "string")

    def fn_iif(self, target: Sql, args: tuple[Node, ...], target_node: Node | None) -> Sql:
        """``iif(criterion, then[, otherwise])`` on the focus (``x.iif(...)`` is refused: use where())."""
        self._arity("iif", args, 2, 3)
        if target_node is not None:
            raise FhirPathError("iif() is supported on the focus only, not on a collection (use where())")
        criterion = self.boolean(self.compile(args[0]), "the iif() criterion")
        then = self.compile(args[1])
        otherwise = self.compile(args[2]) if len(args) == 3 else Sql(EMPTY, "nodes")
        if not then.is_nodes and not otherwise.is_nodes and then.type == otherwise.type:
            return Sql(f"(CASE WHEN {criterion} THEN {then.text} ELSE {otherwise.text} END)", "value", then.type)
        if not then.is_nodes and otherwise.text == EMPTY:
            return Sql(f"(CASE WHEN {criterion} THEN {then.text} END)", "value", then.type)
        fhir_type = then.type if then.type == otherwise.type else None
        text = f"(CASE WHEN {criterion} THEN {self.nodes(then)} ELSE {self.nodes(otherwise)} END)"
        return Sql(text, "nodes", fhir_type)

    # -- types --------------------------------------------------------------------------------------
    def _type_arg(self, name: str, args: tuple[Node, ...]) -> str:
        self._arity(name, args, 1, 1)
        if not isinstance(args[0], TypeName):
            raise FhirPathError(f"{name}() takes a type name")
        return args[0].name

    def fn_ofType(self, target: Sql, args: tuple[Node, ...], target_node: Node | None) -> Sql:
        fhir_type = self._type_arg("ofType", args)
        if isinstance(target_node, Member):
            # A choice element: FHIR JSON writes value[x] of type Quantity as "valueQuantity".
            parent = self.focus() if target_node.target is None else self.compile(target_node.target)
            choice = self.navigate(parent, target_node.name + types.choice_suffix(fhir_type))
            plain = self._filter_type(target, fhir_type)
            return Sql(f"list_concat({choice.text}, {plain.text})", "nodes", fhir_type)
        return self._filter_type(target, fhir_type)

    def _filter_type(self, target: Sql, fhir_type: str) -> Sql:
        if not target.is_nodes:
            if types.family(target.type) == types.family(fhir_type):
                return replace(target, type=fhir_type)
            return Sql(f"CAST(NULL AS {types.duckdb_type(target.type)})", "value", target.type)
        var = self.scope.fresh()
        json_types = types.json_types(fhir_type)
        if json_types is None:  # a resource type
            test = f"json_extract_string({var}, '$.resourceType') = {quote(fhir_type)}"
        else:
            test = f"json_type({var}) IN ({', '.join(quote(t) for t in json_types)})"
            if fhir_type in types.COMPLEX:
                test += f" AND json_extract({var}, '$.resourceType') IS NULL"
        return Sql(f"list_filter({target.text}, lambda {var}: {test})", "nodes", fhir_type)

    def fn_as(self, target: Sql, args: tuple[Node, ...], target_node: Node | None) -> Sql:
        return self.fn_ofType(target, args, target_node)

    def fn_is(self, target: Sql, args: tuple[Node, ...], target_node: Node | None) -> Sql:
        typed = self.fn_ofType(target, args, target_node)
        if not typed.is_nodes:
            return Sql(f"({typed.text} IS NOT NULL)", "value", "boolean")
        return Sql(f"(len({typed.text}) > 0)", "value", "boolean")

    # -- FHIR-specific ---------------------------------------------------------------------------------
    def fn_extension(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        self._arity("extension", args, 1, 1)
        url = self.compile(args[0])
        if url.is_nodes:
            raise FhirPathError("extension() takes a url string")
        var = self.scope.fresh()
        extensions = self.navigate(target, "extension")
        return Sql(
            f"list_filter({extensions.text}, lambda {var}: json_extract_string({var}, '$.url') = {url.text})", "nodes"
        )

    def fn_getResourceKey(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        """The resource's ``id``: the key :meth:`fn_getReferenceKey` returns for references to it."""
        self._arity("getResourceKey", args, 0, 0)
        if not target.is_nodes:
            return Sql("CAST(NULL AS VARCHAR)", "value", "string")
        if target.node is None:
            target = Sql(target.text, "nodes", target.type, node=self.single(target, "getResourceKey()"))
        return Sql(self.value(self.navigate(target, "id"), "string", "getResourceKey()"), "value", "string")

    def fn_getReferenceKey(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        """The id a Reference points to: ``Patient/p1``, ``http://host/fhir/Patient/p1`` and
        ``urn:uuid:p1`` (bundle references) all give ``p1``; contained (``#x``) gives nothing. With a
        type, references known to be of another type give nothing (``urn:uuid:`` ones carry no type)."""
        self._arity("getReferenceKey", args, 0, 1)
        wanted = None
        if args:
            if not isinstance(args[0], TypeName):
                raise FhirPathError("getReferenceKey() takes a resource type name")
            wanted = args[0].name
        if not target.is_nodes:
            return Sql("CAST(NULL AS VARCHAR)", "value", "string")
        if target.node is not None:
            return Sql(_reference_key(target.node, wanted, self.scope.fresh), "value", "string")
        var, key = self.scope.fresh(), self.scope.fresh()
        keys = f"list_transform({target.text}, lambda {var}: to_json({_reference_key(var, wanted, self.scope.fresh)}))"
        return Sql(f"list_filter({keys}, lambda {key}: {key} IS NOT NULL)", "nodes", "string")

    def fn_lowBoundary(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        return self._boundary(target, args, low=True)

    def fn_highBoundary(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        return self._boundary(target, args, low=False)

    def _boundary(self, target: Sql, args: tuple[Node, ...], low: bool) -> Sql:
        name = "lowBoundary" if low else "highBoundary"
        if args:
            raise FhirPathError(f"{name}() with a precision argument is not supported")
        hint = target.type
        if target.is_nodes:
            one = self.single(target, f"{name}()")
            return self._bound_boundary(one, hint, low, self.scope.fresh())
        text = f"CAST({target.text} AS VARCHAR)"
        number = "true" if types.family(hint) in ("integer", "decimal") else "false"
        var = self.scope.fresh()
        inner = self._boundary_of(var, number, hint, low)
        return Sql(let(text, var, inner.text), "value", inner.type)

    def _bound_boundary(self, one: str, hint: str | None, low: bool, var: str) -> Sql:
        number = f"json_type({var}) IN {_NUMERIC_JSON}"
        inner = self._boundary_of(f"json_extract_string({var}, '$')", number, hint, low)
        return Sql(let(one, var, inner.text), "value", inner.type)

    def _boundary_of(self, text: str, number: str, hint: str | None, low: bool) -> Sql:
        """Boundary SQL of the value `text` (its text), `number` telling whether it is a JSON number."""
        if types.family(hint) in ("integer", "decimal"):
            return Sql(f"(CASE WHEN {number} THEN {_decimal_boundary(text, low)} END)", "value", "decimal")
        if hint in types.TEMPORALS:
            return Sql(_temporal_boundary(text, hint, low), "value", hint)
        # Type unknown: decide on the value's shape (number, time, dateTime, date).
        shape = (
            f"(CASE WHEN {number} THEN CAST({_decimal_boundary(text, low)} AS VARCHAR) "
            f"WHEN regexp_matches({text}, '^\\d{{2}}:') THEN {_temporal_boundary(text, 'time', low)} "
            f"WHEN contains({text}, 'T') THEN {_temporal_boundary(text, 'dateTime', low)} "
            f"ELSE {_temporal_boundary(text, 'date', low)} END)"
        )
        return Sql(shape, "value", "string")

    # -- strings ----------------------------------------------------------------------------------------
    def _string_fn(self, target: Sql, args: tuple[Node, ...], name: str, arity: int, template: str, out: str) -> Sql:
        self._arity(name, args, arity, arity)
        s = self.value(target, "string", f"{name}()")
        params = [self.value(self.compile(arg), "string", f"{name}() argument") for arg in args]
        return Sql(template.format(s, *params), "value", out)

    def fn_startsWith(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "startsWith", 1, "starts_with({0}, {1})", "boolean")

    def fn_endsWith(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "endsWith", 1, "ends_with({0}, {1})", "boolean")

    def fn_contains(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "contains", 1, "contains({0}, {1})", "boolean")

    def fn_matches(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "matches", 1, "regexp_matches({0}, {1})", "boolean")

    def fn_indexOf(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "indexOf", 1, "CAST(instr({0}, {1}) - 1 AS BIGINT)", "integer")

    def fn_substring(self, target: Sql, args: tuple[Node, ...], _: Node | None) -> Sql:
        """``substring(start[, length])``, 0-based; empty when start is outside the string."""
        self._arity("substring", args, 1, 2)
        s = self.value(target, "string", "substring()")
        start, *length = (self.value(self.compile(arg), "integer", "substring() argument") for arg in args)
        end = f", greatest({length[0]}, 0)" if length else ""
        text = f"(CASE WHEN {start} >= 0 AND {start} < length({s}) THEN substring({s}, {start} + 1{end}) END)"
        return Sql(text, "value", "string")

    def fn_upper(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "upper", 0, "upper({0})", "string")

    def fn_lower(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "lower", 0, "lower({0})", "string")

    def fn_trim(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "trim", 0, "trim({0})", "string")

    def fn_length(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "length", 0, "CAST(length({0}) AS BIGINT)", "integer")

    def fn_replace(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "replace", 2, "replace({0}, {1}, {2})", "string")

    def fn_toString(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "toString", 0, "{0}", "string")

    def fn_toInteger(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "toInteger", 0, "TRY_CAST({0} AS BIGINT)", "integer")

    def fn_toDecimal(self, t: Sql, a: tuple[Node, ...], _: Node | None) -> Sql:
        return self._string_fn(t, a, "toDecimal", 0, "TRY_CAST({0} AS DOUBLE)", "decimal")


def _reference_key(node: str, wanted: str | None, fresh: Callable[[], str]) -> str:
    """SQL of the key a Reference node points to (see :meth:`Compiler.fn_getReferenceKey`)."""
    tail = "'([A-Za-z]+)/([^/]+)(/_history/[^/]+)?$'"

    def key(ref: str) -> str:
        return (
            f"(CASE WHEN starts_with({ref}, '#') THEN NULL "
            f"WHEN starts_with({ref}, 'urn:') THEN nullif(regexp_extract({ref}, '[^:]+$'), '') "
            f"ELSE nullif(regexp_extract({ref}, {tail}, 2), '') END)"
        )

    def typed(n: str) -> str:
        def check(ref: str) -> str:
            kind = f"coalesce(nullif(regexp_extract({ref}, {tail}, 1), ''), json_extract_string({n}, '$.type'))"
            general = bind(
                kind, fresh(), lambda k: f"(CASE WHEN {k} IS NULL OR {k} = {quote(wanted or '')} THEN {key(ref)} END)"
            )
            # The common form, ``Wanted/id``, without regular expressions (a quarter of the cost).
            start = len(wanted or "") + 2
            return (
                f"(CASE WHEN starts_with({ref}, {quote((wanted or '') + '/')}) "
                f"AND strpos(substr({ref}, {start}), '/') = 0 THEN nullif(substr({ref}, {start}), '') "
                f"ELSE {general} END)"
            )

        return bind(f"json_extract_string({n}, '$.reference')", fresh(), check if wanted else key)

    return bind(node, fresh(), typed)


def _decimal_boundary(text: str, low: bool) -> str:
    """±half a unit of the last digit written: 1.0 → [0.95, 1.05] (FHIRPath boundaries of a decimal)."""
    scale = f"(CASE WHEN contains({text}, '.') THEN length(split_part({text}, '.', 2)) ELSE 0 END)"
    sign = "-" if low else "+"
    return f"round(CAST({text} AS DOUBLE) {sign} 0.5 / pow(10, {scale}), CAST({scale} + 1 AS INTEGER))"


def _date_boundary(date: str, low: bool) -> str:
    if low:
        return f"(CASE length({date}) WHEN 4 THEN {date} || '-01-01' WHEN 7 THEN {date} || '-01' ELSE {date} END)"
    last_day = f"strftime(last_day(CAST({date} || '-01' AS DATE)), '%Y-%m-%d')"
    return f"(CASE length({date}) WHEN 4 THEN {date} || '-12-31' WHEN 7 THEN {last_day} ELSE {date} END)"


def _time_boundary(time: str, low: bool) -> str:
    """``HH``, ``HH:MM``, ``HH:MM:SS``, ``HH:MM:SS.f`` completed to milliseconds at either end."""
    fill = "0" if low else "9"
    minutes, seconds = ("00", "00") if low else ("59", "59")
    return (
        f"(CASE length({time}) WHEN 2 THEN {time} || ':{minutes}:{seconds}.{fill * 3}' "
        f"WHEN 5 THEN {time} || ':{seconds}.{fill * 3}' WHEN 8 THEN {time} || '.{fill * 3}' "
        f"ELSE rpad(substr({time}, 1, 12), 12, '{fill}') END)"
    )


def _temporal_boundary(text: str, fhir_type: str, low: bool) -> str:
    if fhir_type == "date":
        return _date_boundary(text, low)
    if fhir_type == "time":
        return _time_boundary(text, low)
    # dateTime / instant: date part, time part, offset (the widest offset when none is written).
    date = f"split_part({text}, 'T', 1)"
    rest = f"split_part({text}, 'T', 2)"
    offset = f"regexp_extract({rest}, '(Z|[+-]\\d{{2}}:\\d{{2}})$')"
    clock = f"regexp_replace({rest}, '(Z|[+-]\\d{{2}}:\\d{{2}})$', '')"
    default_offset = "'+14:00'" if low else "'-12:00'"
    start_of_day = "'00'" if low else "'23'"
    time = f"(CASE WHEN {clock} = '' THEN {start_of_day} ELSE {clock} END)"
    return (
        f"({_date_boundary(date, low)} || 'T' || {_time_boundary(time, low)} || "
        f"coalesce(nullif({offset}, ''), {default_offset}))"
    )

"""A parsed ViewDefinition (:mod:`.model`) → one DuckDB SQL query over a table of JSON resources.

Shape of the query::

    WITH __base AS (SELECT resource FROM source WHERE resourceType = 'Patient'),
         __view AS (SELECT resource FROM __base WHERE <view where clauses>)
    SELECT <columns> FROM __view AS __b
      CROSS JOIN LATERAL unnest(<forEach list>) WITH ORDINALITY AS __i1(__f, __o)      -- forEach
      LEFT JOIN LATERAL unnest(<forEachOrNull list>) WITH ORDINALITY AS __i2(...) ON true -- forEachOrNull
      CROSS JOIN LATERAL (<branch 1> UNION ALL <branch 2>) AS __u3                    -- unionAll

A select node's rows are the cross product of its own columns, each nested select and its unionAll,
for every element of its iteration: nested selects are therefore joined into the parent's join chain
(a left-deep chain of lateral joins is exactly that cross product), and only a unionAll needs a
subquery, each branch being compiled the same way against the enclosing focus. ``forEach`` drops a
row whose collection is empty (inner join), ``forEachOrNull`` keeps it with a NULL focus (left
join); ``WITH ORDINALITY`` gives ``%rowIndex``. ``repeat`` is a recursive CTE, correlated to the
focus, that collects the nodes depth-first (ordered by their path of indexes) into one list that is
then iterated like ``forEach``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from proxisante.ingest.fhir.viewdef import types
from proxisante.ingest.fhir.viewdef.errors import ViewDefinitionError
from proxisante.ingest.fhir.viewdef.expressions import (
    EMPTY,
    Compiler,
    FhirPathError,
    Scope,
    Sql,
    cast_value,
    json_to,
    quote,
)
from proxisante.ingest.fhir.viewdef.model import Column, ConstantDef, Expression, Select, View


@dataclass(frozen=True)
class Context:
    """Where a select node is evaluated: its focus node, ``%rowIndex``, the resource (SQL), and the
    prefix that reaches the resource's pre-extracted children (``__b.`` outside the CTEs)."""

    focus: str
    index: str
    resource: str
    prefix: str


# The resource row, seen from inside the __base/__view CTEs (ROOT) and from the final query (TOP).
ROOT = Context("resource", "CAST(0 AS BIGINT)", "resource", "")
TOP = Context("__b.resource", "CAST(0 AS BIGINT)", "__b.resource", "__b.")


def identifier(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _constant_sql(constant: ConstantDef) -> Sql:
    value, fhir_type = constant.value, constant.type
    fam = types.family(fhir_type)
    where = f"constant {constant.name!r}"
    if fam == "boolean":
        if not isinstance(value, bool):
            raise ViewDefinitionError(f"{where}: valueBoolean must be true or false, got {value!r}")
        return Sql("true" if value else "false", "value", fhir_type)
    if fam == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ViewDefinitionError(f"{where}: value{fhir_type} must be an integer, got {value!r}")
        return Sql(f"CAST({value} AS BIGINT)", "value", fhir_type)
    if fam == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ViewDefinitionError(f"{where}: valueDecimal must be a number, got {value!r}")
        return Sql(f"CAST({float(value)!r} AS DOUBLE)", "value", fhir_type)
    if not isinstance(value, str):
        raise ViewDefinitionError(f"{where}: value{fhir_type} must be a string, got {value!r}")
    return Sql(quote(value), "value", fhir_type)


class QueryBuilder:
    """Builds the SQL of one view; holds the counter that keeps aliases unique."""

    def __init__(self, view: View, fields: Mapping[str, str] | None = None) -> None:
        self.view = view
        self.fields = fields  # root key -> column of the source already holding that child (see build_query)
        self.constants = {c.name: _constant_sql(c) for c in view.constants}
        self.aliases = 0
        self.lambdas = [0]  # shared by every Scope, so lambda parameters are unique in the query
        self.root_fields: dict[str, str] = {}  # children of the resource read by the view → column
        self.root_columns: list[tuple[str, str]] = []  # (SQL, alias) of columns computed per resource
        self.whole_resource = False  # does the query read the resource itself (not only its children)?

    def alias(self, prefix: str) -> str:
        self.aliases += 1
        return f"__{prefix}{self.aliases}"

    def compiler(self, ctx: Context, location: str) -> Compiler:
        scope = Scope(
            ctx.focus, ctx.index, ctx.resource, self.constants, location, self.lambdas, self.root_fields, ctx.prefix
        )
        return Compiler(scope)

    def compile(self, expression: Expression, ctx: Context) -> tuple[Compiler, Sql]:
        compiler = self.compiler(ctx, expression.location)
        try:
            return compiler, compiler.compile(expression.tree)
        except FhirPathError as exc:
            raise ViewDefinitionError(f"{expression.location}: {exc} (in {expression.text!r})") from None

    # -- the whole query ----------------------------------------------------------------------------
    def build(self, source: str) -> str:
        filters = [self.where_clause(w, ROOT) for w in self.view.where]
        joins: list[str] = []
        columns = self.select(self.view.root, TOP, joins)
        computed = "".join(f", {sql} AS {alias}" for sql, alias in self.root_columns)
        view = f"SELECT *{computed} FROM __base" + (" WHERE " + " AND ".join(filters) if filters else "")
        self.whole_resource = any(_RESOURCE.search(text) for text in [view, *joins, *(sql for sql, _ in columns)])
        select_list = ",\n  ".join(f"{sql} AS {identifier(name)}" for sql, name in columns)
        chain = "".join(f"\n  {join}" for join in joins)
        # With lateral joins, the per-resource part is materialised: DuckDB would otherwise recompute
        # (re-parse) it for the rows each resource expands to.
        materialized = " MATERIALIZED" if joins else ""
        return (
            f"WITH __base AS ({self.base(source)}),\n__view AS{materialized} ({view})\n"
            f"SELECT\n  {select_list}\nFROM __view AS __b{chain}"
        )

    def base(self, source: str) -> str:
        """The resources of the view's type, with the children the view reads extracted in one pass
        (``json_extract`` of a list of paths parses each resource once, however many columns).

        With ``fields``, the source holds only resources of the view's type and the children named
        there are columns already: no filter, and only the other children are extracted."""
        given = {k: c for k, c in self.root_fields.items() if self.fields and k in self.fields}
        missing = {k: c for k, c in self.root_fields.items() if k not in given}
        if self.fields is not None and not self.whole_resource:  # no copy of resources nobody reads
            columns = ", ".join(f"CAST({identifier(self.fields[k])} AS JSON) AS {c}" for k, c in given.items())
            resources = f"SELECT {columns or 'NULL AS __none'} FROM {source}"
            if not missing:
                return resources
        if self.fields is None:
            resources = (
                f"SELECT CAST(resource AS JSON) AS resource FROM {source} "
                f"WHERE json_extract_string(resource, '$.resourceType') = {quote(self.view.resource)}"
            )
        else:
            # The source only holds the columns this view reads: no star, which would copy the rest.
            columns = "".join(f", CAST({identifier(self.fields[k])} AS JSON) AS {c}" for k, c in given.items())
            resources = f"SELECT CAST(resource AS JSON) AS resource{columns} FROM {source}"
        if not missing:
            return resources
        kept = "".join(f", {c}" for c in given.values())
        paths = ", ".join(quote(f'$."{key}"') for key in missing)
        fields = ", ".join(f"__fields[{i}] AS {column}" for i, column in enumerate(missing.values(), 1))
        extracted = f"SELECT resource{kept}, json_extract(resource, [{paths}]) AS __fields FROM ({resources})"
        return f"SELECT resource{kept}, {fields} FROM ({extracted})"

    def where_clause(self, expression: Expression, ctx: Context) -> str:
        compiler, sql = self.compile(expression, ctx)
        try:
            return compiler.strict_boolean(sql, "the where path")
        except FhirPathError as exc:
            raise ViewDefinitionError(f"{expression.location}: {exc} (in {expression.text!r})") from None

    # -- select nodes ----------------------------------------------------------------------------------
    def select(self, node: Select, ctx: Context, joins: list[str]) -> list[tuple[str, str]]:
        """Append the joins of `node` to `joins`; return its output columns as (SQL, name)."""
        ctx = self.iterate(node, ctx, joins)
        if ctx == TOP:  # columns of the resource itself: computed once per resource, in __view
            columns = []
            for column in node.columns:
                alias = self.alias("c")
                self.root_columns.append((self.column(column, ROOT), alias))
                columns.append((f"__b.{alias}", column.name))
        else:
            columns = [(self.column(c, ctx), c.name) for c in node.columns]
        for child in node.selects:
            columns += self.select(child, ctx, joins)
        if node.union:
            alias = self.alias("u")
            branches = " UNION ALL ".join(f"({self.subquery(branch, ctx)})" for branch in node.union)
            joins.append(f"CROSS JOIN LATERAL ({branches}) AS {alias}")
            columns += [(f"{alias}.{identifier(name)}", name) for name in node.union[0].names()]
        return columns

    def subquery(self, node: Select, ctx: Context) -> str:
        """One unionAll branch as a SELECT correlated to the enclosing focus."""
        joins: list[str] = []
        columns = self.select(node, ctx, joins)
        select_list = ", ".join(f"{sql} AS {identifier(name)}" for sql, name in columns)
        chain = "".join(f" {join}" for join in joins)
        return f"SELECT {select_list} FROM (SELECT 1) AS {self.alias('one')}{chain}"

    def iterate(self, node: Select, ctx: Context, joins: list[str]) -> Context:
        """The join of a forEach / forEachOrNull / repeat, and the context of the node's rows."""
        if node.iteration is None:
            return ctx
        if node.iteration == "repeat":
            collection = self.repeat(node.paths, ctx)
        else:
            compiler, sql = self.compile(node.paths[0], ctx)
            collection = compiler.nodes(sql)
        alias = self.alias("i")
        unnest = f"unnest({collection}) WITH ORDINALITY AS {alias}(__f, __o)"
        if node.iteration == "forEachOrNull":
            joins.append(f"LEFT JOIN LATERAL {unnest} ON true")
            return replace(ctx, focus=f"{alias}.__f", index=f"coalesce({alias}.__o - 1, 0)")
        joins.append(f"CROSS JOIN LATERAL {unnest}")
        return replace(ctx, focus=f"{alias}.__f", index=f"({alias}.__o - 1)")

    def repeat(self, paths: tuple[Expression, ...], ctx: Context) -> str:
        """SQL of the list of every node reachable from the focus by repeating any of `paths`,
        depth first (a node, then what path 1 reaches from it, then path 2...)."""
        cte, step = self.alias("w"), self.alias("c")

        def children(focus: str) -> str:
            parts = []
            for number, path in enumerate(paths):
                compiler, sql = self.compile(path, replace(ctx, focus=focus))
                var, pos = compiler.scope.fresh(), compiler.scope.fresh()
                struct = f"{{'n': {var}, 'k': [{number}, {pos}]}}"
                parts.append(f"list_transform({compiler.nodes(sql)}, lambda {var}, {pos}: {struct})")
            return parts[0] if len(parts) == 1 else f"list_concat({', '.join(parts)})"

        return (
            f"(SELECT coalesce(list({cte}.n ORDER BY {cte}.k), {EMPTY}) FROM ("
            f"WITH RECURSIVE {cte}(n, k) AS ("
            f"SELECT {step}.c.n, {step}.c.k FROM (SELECT unnest({children(ctx.focus)}) AS c) AS {step} "
            f"UNION ALL SELECT {step}.c.n, {cte}.k || {step}.c.k FROM {cte} "
            f"CROSS JOIN LATERAL (SELECT unnest({children(f'{cte}.n')}) AS c) AS {step}"
            f") SELECT n, k FROM {cte}) AS {cte})"
        )

    # -- columns -----------------------------------------------------------------------------------------
    def column(self, column: Column, ctx: Context) -> str:
        compiler, sql = self.compile(column.path, ctx)
        fhir_type = column.type or sql.type
        if column.collection:
            return self.collection_column(compiler, sql, fhir_type)
        if not sql.is_nodes:
            return cast_value(sql, fhir_type)
        what = f"column {column.name!r} (collection is not true)"
        one = compiler.single(sql, what)
        if fhir_type is None:
            return f"json_extract_string({one}, '$')"
        return json_to(one, fhir_type, compiler.scope.fresh())

    def collection_column(self, compiler: Compiler, sql: Sql, fhir_type: str | None) -> str:
        element = types.duckdb_type(fhir_type) if fhir_type else "VARCHAR"
        if not sql.is_nodes:
            value = cast_value(sql, fhir_type)
            return f"(CASE WHEN {value} IS NULL THEN []::{element}[] ELSE [{value}] END)"
        var = compiler.scope.fresh()
        convert = json_to(var, fhir_type) if fhir_type else f"json_extract_string({var}, '$')"
        return f"list_transform({sql.text}, lambda {var}: {convert})"


def build_query(view: View, source: str, fields: Mapping[str, str] | None = None) -> str:
    """The SQL of `view` over `source` (a table or view with a JSON column ``resource``).

    `fields` (root element name -> source column) says that `source` holds resources of the view's
    type only, with those children of each resource already extracted (JSON, NULL when absent): the
    query reads them instead of parsing the resource again."""
    return QueryBuilder(view, fields).build(source)


def root_elements(view: View) -> list[str] | None:
    """The children of the resource that the query of `view` reads (to extract them beforehand), or
    None when it reads the resource as a whole (``%resource``)."""
    builder = QueryBuilder(view)
    builder.build("__source")
    return None if builder.whole_resource else list(builder.root_fields)


# The resource column named in generated SQL (every other identifier the builder makes starts with "__").
_RESOURCE = re.compile(r"(?<!\w)resource\b")


__all__ = ["Context", "QueryBuilder", "build_query", "identifier", "root_elements"]

"""Public entry of the SQL-on-FHIR v2 ViewDefinition runner.

A ViewDefinition is compiled, like a small compiler would: the view JSON is checked and its
FHIRPath expressions parsed (:mod:`.viewdef.model`, :mod:`.viewdef.parser`), each expression becomes
one SQL expression (:mod:`.viewdef.expressions`) and the select tree becomes one query of lateral
joins (:mod:`.viewdef.query`). The query runs over every resource at once: nothing is evaluated one
resource at a time in Python. See ``docs/sql-on-fhir.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from proxisante.ingest.fhir.viewdef.errors import ViewDefinitionError
from proxisante.ingest.fhir.viewdef.expressions import RUNTIME_ERROR
from proxisante.ingest.fhir.viewdef.model import parse_view
from proxisante.ingest.fhir.viewdef.query import build_query, root_elements

__all__ = ["ViewDefinitionError", "compile_view", "read_elements", "run_view", "view_error"]


def compile_view(view: Mapping[str, Any], source: str, fields: Mapping[str, str] | None = None) -> str:
    """SQL of one ViewDefinition over `source`, a DuckDB table or view with a column `resource` (JSON)
    holding resources (any types: filtered on ``view['resource']``).

    With `fields` (element name -> column), `source` holds only resources of the view's type, and the
    children of each resource named there are already extracted in those columns (JSON): the query
    reads them rather than parsing every resource again (see :func:`read_elements`).

    Raises :class:`ViewDefinitionError` for an invalid view. Errors that depend on the data (several
    values in a column not declared ``collection``, a ``where`` path that is not boolean) are raised
    by DuckDB when the SQL runs, as ``duckdb.InvalidInputException`` whose message contains
    ``ViewDefinitionError:``; :func:`view_error` turns one into a :class:`ViewDefinitionError`."""
    return build_query(parse_view(view), source, fields)


def read_elements(view: Mapping[str, Any]) -> list[str] | None:
    """The children of the resource (``subject``, ``code``...) that the query of `view` reads, or None when it
    reads the resource as a whole."""
    return root_elements(parse_view(view))


def run_view(con: duckdb.DuckDBPyConnection, view: Mapping[str, Any], source: str) -> duckdb.DuckDBPyRelation:
    """Run one ViewDefinition over `source` on `con`, as one query; the result as a relation.

    The query is executed here (into an Arrow table the relation reads), so that every error of the
    view, including those that depend on the data, is raised here as :class:`ViewDefinitionError`
    rather than later wherever the relation is read. Callers that want to stream the rows into a table
    without holding them in memory run :func:`compile_view`'s SQL themselves."""
    sql = compile_view(view, source)
    try:
        table = con.sql(sql).fetch_arrow_table()
    except duckdb.Error as exc:
        raise view_error(exc) from exc
    return con.from_arrow(table)


def view_error(exc: Exception) -> Exception:
    """The :class:`ViewDefinitionError` a DuckDB error raised by a view's SQL stands for, or `exc`
    itself when it is not one of the view's own run-time checks."""
    message = str(exc)
    if RUNTIME_ERROR not in message:
        return exc
    return ViewDefinitionError(message.split(RUNTIME_ERROR, 1)[1].strip())

"""Public entry of the SQL-on-FHIR v2 ViewDefinition runner.

The interface is fixed (the FHIR import calls it); the compiler behind it is being written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb


class ViewDefinitionError(ValueError):
    """An invalid ViewDefinition; the message names the path of the bad element (e.g. ``select[0].column[1]``)."""


def compile_view(view: Mapping[str, Any], source: str) -> str:
    """SQL of one ViewDefinition over `source`, a DuckDB table or view with a column `resource` (JSON)
    holding resources (any types: filtered on ``view['resource']``)."""
    raise NotImplementedError("the ViewDefinition compiler is not written yet")


def run_view(con: duckdb.DuckDBPyConnection, view: Mapping[str, Any], source: str) -> duckdb.DuckDBPyRelation:
    """Run one ViewDefinition over `source` on `con`; one query, one row per output row of the view."""
    return con.sql(compile_view(view, source))

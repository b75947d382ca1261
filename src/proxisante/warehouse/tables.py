"""What anything that reads the warehouse's tables needs: a table by name, and a way to run a query.

:class:`~proxisante.warehouse.connection.Warehouse` is one; so is a view of it that hides some rows,
such as reporting's ``WithoutPersons`` (the warehouse without the patients who objected). Code that only
reads (the economic profile) takes a :class:`Tables`, and any of them can be passed.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import ibis.expr.types as ir


@runtime_checkable
class Tables(Protocol):
    """Read access to the warehouse's tables through Ibis."""

    def table(self, name: str) -> ir.Table:
        """The warehouse table ``name`` (a declared table of ``warehouse/schema.py``)."""
        ...

    @property
    def engine(self) -> str:
        """The engine that runs the queries: ``duckdb``, ``postgres`` or ``pyspark``."""
        ...

    def execute(self, expr: ir.Expr) -> Any:
        """The result of an Ibis expression: a pandas DataFrame for a table, a scalar for a scalar."""
        ...

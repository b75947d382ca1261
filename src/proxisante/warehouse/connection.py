"""Connecting the warehouse: an Ibis backend chosen by URL, its tables created on first use.

``duckdb://<file>`` is the embedded default. The URL is all that changes for PostgreSQL or PySpark,
because every query of the engines above is an Ibis expression.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import ibis
from ibis.backends import BaseBackend
from ibis.expr.types import Table

from proxisante.warehouse.schema import TABLES, TABLES_BY_NAME


class WarehouseError(RuntimeError):
    """The warehouse cannot do what was asked (wrong engine, missing table...)."""


class Warehouse:
    """The analytic store: OMOP tables, French extension and load bookkeeping, behind Ibis."""

    def __init__(self, backend: BaseBackend, url: str) -> None:
        self.backend = backend
        self.url = url
        self._ensure_tables()

    @classmethod
    def connect(cls, url: str) -> Warehouse:
        if url.startswith("duckdb://"):
            path = url.removeprefix("duckdb://")
            return cls(ibis.duckdb.connect(path or ":memory:"), url)
        return cls(ibis.connect(url), url)

    @property
    def engine(self) -> str:
        return self.backend.name

    @property
    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """The raw DuckDB connection, for staging files next to the warehouse."""
        if self.engine != "duckdb":
            raise WarehouseError(f"the {self.engine} engine has no embedded DuckDB connection")
        con: duckdb.DuckDBPyConnection = self.backend.con  # type: ignore[attr-defined]
        return con

    def _ensure_tables(self) -> None:
        existing = set(self.backend.list_tables())
        for table in TABLES:
            if table.name not in existing:
                self.backend.create_table(table.name, schema=table.schema)

    def table(self, name: str) -> Table:
        if name not in TABLES_BY_NAME:
            raise WarehouseError(f"no warehouse table named {name!r}")
        return self.backend.table(name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a batch either commits whole or leaves the warehouse as it was."""
        con = self.duckdb
        con.begin()
        try:
            yield
        except BaseException:
            con.rollback()
            raise
        con.commit()

    def counts(self) -> dict[str, int]:
        """Row count of every warehouse table."""
        return {t.name: int(self.table(t.name).count().execute()) for t in TABLES}

    def execute(self, expr: Table) -> Any:
        return self.backend.execute(expr)

    def close(self) -> None:
        self.backend.disconnect()

"""Copying a warehouse from one engine to another: DuckDB to a PostgreSQL server, to Spark, and back.

A centre that outgrows its DuckDB file moves its warehouse to a PostgreSQL server with this; the tests
put the same data on the three engines with it. Rows travel as Arrow record batches: DuckDB and
PostgreSQL stream them (a table never needs to fit in memory), a Spark table is collected first. Each
batch is inserted with Ibis (``backend.insert``), except into Spark (see :func:`insert`).

The target's tables are *replaced*: on DuckDB and PostgreSQL all of them in one transaction, so a
failed copy leaves the target as it was; Spark has no such transaction, a failed copy leaves it partly
replaced, and the copy is simply run again. Types are those of ``schema.TABLES`` whatever the engine
reports, and a target table whose columns differ is recreated with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext

import pyarrow as pa

from proxisante.warehouse.connection import Warehouse, WarehouseError, normalised
from proxisante.warehouse.schema import TABLES, TABLES_BY_NAME, TableDef

Progress = Callable[[str, int], None]
"""Called after every batch with the table's name and the number of its rows copied so far."""

BATCH_ROWS = 100_000


def replicate(
    source: Warehouse,
    target: Warehouse,
    tables: Iterable[str] | None = None,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, int]:
    """Replace the target's tables (all warehouse tables, or the named ones) by the source's, and
    return the number of rows copied per table."""
    chosen = _chosen(tables)
    if source is target:
        raise WarehouseError("cannot replicate a warehouse onto itself")
    with _all_or_nothing(target):
        return {table.name: copy_table(source, target, table, progress, batch_rows) for table in chosen}


def _chosen(tables: Iterable[str] | None) -> list[TableDef]:
    if tables is None:
        return list(TABLES)
    names = list(tables)
    if unknown := [name for name in names if name not in TABLES_BY_NAME]:
        raise WarehouseError(f"no warehouse table named {', '.join(unknown)}")
    return [TABLES_BY_NAME[name] for name in names]


def _all_or_nothing(target: Warehouse) -> AbstractContextManager[None]:
    return target.transaction() if target.transactional else nullcontext()


def copy_table(
    source: Warehouse, target: Warehouse, table: TableDef, progress: Progress | None, batch_rows: int
) -> int:
    """Empty the target table (recreated when its columns are not the declared ones), then insert the
    source's rows batch by batch."""
    _reset(target, table)
    copied = 0
    for batch in read_batches(source, table, batch_rows):
        insert(target, table, batch)
        copied += batch.num_rows
        if progress is not None:
            progress(table.name, copied)
    return copied


def _reset(target: Warehouse, table: TableDef) -> None:
    backend = target.backend
    if normalised(backend.get_schema(table.name)) != table.schema:
        backend.drop_table(table.name)
        backend.create_table(table.name, schema=table.schema)
    else:
        backend.truncate_table(table.name)


def insert(target: Warehouse, table: TableDef, batch: pa.Table) -> None:
    """Append a batch of rows to a table of the target."""
    if target.engine == "pyspark":
        # Ibis 12 hands an in-memory table to Spark through pandas, mapping decimal columns with
        # ``Decimal()``, which fails on NULL (cost has NULL amounts); Spark 4 reads Arrow itself.
        target.spark.createDataFrame(batch).write.insertInto(table.name)
    else:
        target.backend.insert(table.name, batch)


def read_batches(source: Warehouse, table: TableDef, batch_rows: int) -> Iterator[pa.Table]:
    """The source table's rows as Arrow tables of at most ``batch_rows`` rows, with exactly the declared
    columns and types (engines report ``timestamp(6)``, Spark time zones on its timestamps)."""
    expr = source.table(table.name).select(*table.columns).cast(table.schema)
    arrow_schema = table.schema.to_pyarrow()
    for batch in source.to_pyarrow_batches(expr, batch_rows):
        if batch.num_rows:
            yield pa.Table.from_batches([batch]).cast(arrow_schema)

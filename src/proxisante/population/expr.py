"""Small engine-neutral expressions shared by the patientèle modules.

PostgreSQL refuses ``CAST(boolean AS BIGINT)``, which DuckDB and Spark accept: a boolean is turned
into 0/1 with a CASE, which every engine runs the same way.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def as_int(flag: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``flag`` holds, else 0 (null counts as 0)."""
    return ibis.ifelse(flag.fill_null(False), 1, 0).cast("int64")


def count_true(flag: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows ``flag`` holds for, as an integer aggregate."""
    return as_int(flag).sum()

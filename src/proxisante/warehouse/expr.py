"""Small engine-neutral Ibis expressions shared by every package that queries the warehouse.

PostgreSQL refuses ``CAST(boolean AS BIGINT)``, which DuckDB and Spark accept: a boolean is turned
into 0/1 with a CASE, which every engine runs the same way. Age bands are one CASE too, written here
once for the measure strata, the patientèle pyramid and the economic profile, each with its own
dated bounds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir


def as_int(flag: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``flag`` holds, else 0 (null counts as 0)."""
    return ibis.ifelse(flag.fill_null(False), 1, 0).cast("int64")


def count_true(flag: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows ``flag`` holds for, as an integer aggregate."""
    return as_int(flag).sum()


def band_labels(bounds: Sequence[int]) -> list[str]:
    """Labels of the age bands starting at ``bounds`` (ascending), the last one open: ``0-4`` ... ``95+``."""
    return [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(bounds)] + [f"{bounds[-1]}+"]


def age_band(age: ir.IntegerValue, bounds: Sequence[int], else_: str | None = "?") -> ir.StringValue:
    """The label of the band an age column falls in, as one CASE every engine runs; ``else_`` below the first bound."""
    cases = [(age >= lo, label) for lo, label in reversed(list(zip(bounds, band_labels(bounds), strict=True)))]
    return ibis.cases(*cases, else_=else_)

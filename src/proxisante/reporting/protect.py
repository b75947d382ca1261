"""Disclosure control of every table of the report, with ``disclosure.py``.

Each table is written long (one row per cell, dimension columns, ``Total`` on the margin rows:
``disclosure.with_margins``), passed to ``disclosure.suppress`` (threshold, then secondary
suppression) and only then laid out for the reader. A value computed from a count (a share) is
masked with it. Counts that do not add up across siblings (distinct patients of several
professions) are protected without their margin row, which ``suppress`` treats as if it were
published: the safe side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from proxisante.disclosure import TOTAL, DisclosureSettings, suppress, with_margins
from proxisante.reporting.model import Column, Masked, Row, Table


def protected(
    frame: pd.DataFrame, dims: Sequence[str], counts: Sequence[str], rules: DisclosureSettings
) -> pd.DataFrame:
    """``disclosure.suppress`` with the report's rules: masked counts are ``pd.NA``, ``suppressed`` says why."""
    return suppress(frame, dims=dims, counts=counts, settings=rules)


def reason(status: str) -> Masked | None:
    """``suppressed`` column value → the model's masked reason."""
    if status == "primary":
        return "primary"
    return "secondary" if status else None


def value(cell: Any) -> int | None:
    return None if cell is pd.NA or pd.isna(cell) else int(cell)


def cells(frame: pd.DataFrame, dims: Sequence[str], count: str) -> dict[tuple, tuple[int | None, Masked | None]]:
    """Each cell of a protected long table: its published count (None if masked) and why it is masked."""
    keys = zip(*(frame[d].tolist() for d in dims), strict=True)
    return {key: (value(v), reason(s)) for key, v, s in zip(keys, frame[count].tolist(), frame.suppressed, strict=True)}


def share(part: int | None, whole: int | None) -> float | None:
    """A share shown only when both counts are published and the whole is not empty."""
    return None if part is None or whole in (None, 0) else part / whole


def row(values: dict[str, Any], masked: dict[str, Masked | None]) -> Row:
    return Row(values, {k: v for k, v in masked.items() if v is not None})


# -- tables of the report -------------------------------------------------------------------------


def crossed(
    frame: pd.DataFrame,
    row_dim: str,
    col_dim: str,
    count: str,
    spec: tuple[str, str, Column, list[tuple[Any, Column]]],
    rules: DisclosureSettings,
    row_labels: dict[Any, str] | None = None,
) -> Table:
    """A two-way table (rows × columns with their totals), protected as one table with its margins.

    ``spec`` is (id, title, first column, [(column value, column)]); the column value ``Total`` is
    the margin over ``col_dim``. Rows come in the order of ``frame`` then ``Total``.
    """
    table_id, title, first, columns = spec
    long = protected(with_margins(frame, [row_dim, col_dim], [count]), [row_dim, col_dim], [count], rules)
    found = cells(long, [row_dim, col_dim], count)
    rows = []
    for key in [*dict.fromkeys(frame[row_dim].tolist()), TOTAL]:
        values: dict[str, Any] = {first.key: (row_labels or {}).get(key, key)}
        masked: dict[str, Masked | None] = {}
        for col_value, column in columns:
            values[column.key], masked[column.key] = found.get((key, col_value), (0, None))
        rows.append(row(values, masked))
    return Table(table_id, title, [first, *(c for _, c in columns)], rows)


def parts_of_a_whole(
    table_id: str, title: str, whole: tuple[str, int], parts: list[tuple[str, str, int]], rules: DisclosureSettings
) -> Table:
    """Counts of traits within one population (ALD, C2S, diabetes... among the patientèle) and shares.

    Each trait is protected with its complement and the whole (the reader can subtract), so a trait
    held by all but a few is masked as surely as one held by a few.
    """
    label, total = whole
    trait_rows = []
    whole_value: int | None = total
    whole_masked: Masked | None = None
    for key, trait_label, count in parts:
        frame = pd.DataFrame({"status": ["with", "without", TOTAL], "patients": [count, total - count, total]})
        found = cells(protected(frame, ["status"], ["patients"], rules), ["status"], "patients")
        published, why = found[("with",)]
        whole_value, whole_masked = found[(TOTAL,)]
        trait_rows.append(
            row(
                {"indicator": key, "label": trait_label, "patients": published, "share": share(published, whole_value)},
                {"patients": why, "share": why},
            )
        )
    if not parts:
        frame = pd.DataFrame({"status": [TOTAL], "patients": [total]})
        whole_value, whole_masked = cells(protected(frame, ["status"], ["patients"], rules), ["status"], "patients")[
            (TOTAL,)
        ]
    whole_values = {
        "indicator": "panel",
        "label": label,
        "patients": whole_value,
        "share": share(whole_value, whole_value),
    }
    first = row(whole_values, {"patients": whole_masked, "share": whole_masked})
    columns = [
        Column("indicator", "code", "text"),
        Column("label", "indicateur", "text"),
        Column("patients", "patients", "count"),
        Column("share", "part", "share"),
    ]
    return Table(table_id, title, columns, [first, *trait_rows])


def by_one_dimension(
    table_id: str,
    title: str,
    frame: pd.DataFrame,
    dim: Column,
    counts: list[Column],
    totals: dict[str, int],
    rules: DisclosureSettings,
    labels: dict[Any, str] | None = None,
) -> Table:
    """Rows of one dimension and a total row whose counts need not be the sum of the rows
    (distinct patients). Rows are protected as siblings of a published total; the total row on its own."""
    keys = [c.key for c in counts]
    long = protected(frame[[dim.key, *keys]], [dim.key], keys, rules)
    rows = []
    for record, status in zip(long.to_dict("records"), long.suppressed, strict=True):
        why = reason(status)
        values = {dim.key: (labels or {}).get(record[dim.key], record[dim.key])}
        values.update({k: value(record[k]) for k in keys})
        rows.append(row(values, dict.fromkeys(keys, why)))
    total = pd.DataFrame({dim.key: [TOTAL], **{k: [totals[k]] for k in keys}})
    done = protected(total, [dim.key], keys, rules)
    why = reason(done.suppressed.iloc[0])
    rows.append(row({dim.key: TOTAL, **{k: value(done[k].iloc[0]) for k in keys}}, dict.fromkeys(keys, why)))
    return Table(table_id, title, [dim, *counts], rows)

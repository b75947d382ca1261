"""What is in the warehouse: row counts, the last loads, and the quarantine by reason (Ibis queries)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from proxisante.messages import french_reason
from proxisante.warehouse.schema import TABLES
from proxisante.warehouse.tables import Tables


@dataclass(frozen=True)
class Status:
    """A snapshot of the warehouse for ``proxisante status``."""

    engine: str
    counts: dict[str, tuple[str, int]]  # table -> (group, rows)
    last_batches: pd.DataFrame
    rejects_by_reason: pd.DataFrame


def warehouse_status(warehouse: Tables, batches: int = 5) -> Status:
    counts = {t.name: (t.group, int(warehouse.table(t.name).count().execute())) for t in TABLES}
    batch = warehouse.table("etl_batch")
    last = warehouse.execute(batch.order_by(batch.committed_at.desc()).limit(batches))
    return Status(warehouse.engine, counts, last, rejects_by_reason(warehouse))


def rejects_by_reason(warehouse: Tables) -> pd.DataFrame:
    """Rejected fields by table, field and reason; the line of the first occurrence of a duplicate is
    dropped from its reason so that duplicates count as one reason."""
    q = warehouse.table("etl_quarantine")
    q = q.mutate(reason=q.reason.re_replace(r" \(première occurrence ligne [0-9]+\)", ""), field=q.field.fill_null(""))
    q = q.mutate(reason=q.reason.re_replace(r" \(first seen at line [0-9]+\)", ""))  # an older version's English
    grouped = warehouse.execute(q.group_by(["pivot_table", "field", "reason"]).aggregate(rows=q.count()))
    # Reasons an older version stored in English are shown in French (they may then meet their French twin).
    grouped["reason"] = grouped["reason"].map(french_reason)
    grouped = grouped.groupby(["pivot_table", "field", "reason"], as_index=False, dropna=False)["rows"].sum()
    grouped = grouped.sort_values(["rows", "pivot_table", "field", "reason"], ascending=[False, True, True, True])
    return grouped.reset_index(drop=True)


def quarantined_rows(warehouse: Tables, table: str | None = None, limit: int = 50) -> pd.DataFrame:
    """Rejected rows, newest batch first, in file order."""
    q = warehouse.table("etl_quarantine")
    if table:
        q = q.filter(q.pivot_table == table)
    q = q.order_by([q.batch_id.desc(), q.file_name, q.line, q.field]).limit(limit)
    rows = warehouse.execute(
        q.select("file_name", "line", "reason", "batch_id", field=q.field.fill_null(""), value=q.value.fill_null(""))
    )
    rows["reason"] = rows["reason"].map(french_reason)
    return rows

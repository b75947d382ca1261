"""Completeness by month: how many rows each clinical table holds per month, and how complete they are.

A month with far fewer visits than its neighbours is a missing export; a falling share of rows with
a professional (``provider_id``) or with a coded concept (``*_source_concept_id``) is a change in the
EHR's export or in its use. One Ibis query per table, grouped by the month of the event date, on
any engine; shares are computed here on the small result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pandas as pd

from proxisante.warehouse.expr import count_true
from proxisante.warehouse.tables import Tables


@dataclass(frozen=True)
class ClinicalTable:
    name: str
    label: str
    date: str
    concept: str | None


CLINICAL_TABLES = (
    ClinicalTable("visit_occurrence", "Consultations", "visit_start_date", "visit_source_concept_id"),
    ClinicalTable("condition_occurrence", "Diagnostics", "condition_start_date", "condition_source_concept_id"),
    ClinicalTable("drug_exposure", "Prescriptions", "drug_exposure_start_date", "drug_source_concept_id"),
    ClinicalTable("measurement", "Résultats de biologie", "measurement_date", "measurement_source_concept_id"),
    ClinicalTable("procedure_occurrence", "Actes", "procedure_date", "procedure_source_concept_id"),
)
COLUMNS = (
    "table",
    "label",
    "month",
    "rows",
    "persons",
    "with_provider",
    "with_concept",
    "share_provider",
    "share_concept",
)


def completeness_by_month(warehouse: Tables, first: dt.date | None = None, last: dt.date | None = None) -> pd.DataFrame:
    """One row per (table, month): rows, distinct persons, rows with a professional and with a coded concept."""
    frames = []
    for spec in CLINICAL_TABLES:
        table = warehouse.table(spec.name)
        day = table[spec.date]
        if first is not None:
            table = table.filter(day >= first)
        if last is not None:
            table = table.filter(day <= last)
        day = table[spec.date]
        concept = table[spec.concept].notnull() if spec.concept else ibis.literal(False)
        grouped = table.group_by(month=day.truncate("M")).agg(
            rows=table.count(),
            persons=table.person_id.nunique(),
            with_provider=count_true(table.provider_id.notnull()),
            with_concept=count_true(concept),
        )
        frame = warehouse.execute(grouped.filter(grouped.month.notnull()))
        frame.insert(0, "table", spec.name)
        frame.insert(1, "label", spec.label)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    for column in ("rows", "persons", "with_provider", "with_concept"):
        out[column] = out[column].fillna(0).astype("int64")
    out["month"] = pd.to_datetime(out["month"]).dt.date
    out["share_provider"] = out.with_provider / out.rows.where(out.rows > 0)
    out["share_concept"] = out.with_concept / out.rows.where(out.rows > 0)
    return out[list(COLUMNS)].sort_values(["table", "month"], ignore_index=True)

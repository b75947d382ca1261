"""Committing a batch to the warehouse: upserts by key, bookkeeping, derived tables, in one transaction.

A batch is atomic (a crash or a ``kill -9`` at any point leaves the warehouse exactly as it was, the
engine's transaction log discarding the uncommitted work) and idempotent (rows are upserted on their
deterministic key, so the same rows loaded twice are the same rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
from ibis.expr.types import Table

from proxisante import vocab
from proxisante.warehouse import schema
from proxisante.warehouse.connection import Warehouse


@dataclass(frozen=True)
class StagedRows:
    """Rows ready for one warehouse table, held in a staging table of the warehouse's connection."""

    table: schema.TableDef
    staged: str


def commit_batch(warehouse: Warehouse, staged: list[StagedRows], appended: list[StagedRows]) -> None:
    """Upsert ``staged`` rows on their table's key, append ``appended`` ones, rebuild derived tables."""
    backend = warehouse.backend
    with warehouse.transaction():
        for rows in staged:
            source = backend.sql(f'SELECT * FROM "{rows.staged}"')
            if rows.table.key is None:
                raise ValueError(f"{rows.table.name} has no key to upsert on")
            if warehouse.table(rows.table.name).count().execute() == 0:
                backend.insert(rows.table.name, source)  # first load: nothing to merge with
            else:
                backend.upsert(rows.table.name, source, on=rows.table.key)
        for rows in appended:
            backend.insert(rows.table.name, backend.sql(f'SELECT * FROM "{rows.staged}"'))
        rebuild_observation_periods(warehouse)


def observation_periods(warehouse: Warehouse) -> Table:
    """One observation period per person, from the first to the last recorded fact."""
    dated = [
        ("visit_occurrence", "visit_start_date"),
        ("condition_occurrence", "condition_start_date"),
        ("drug_exposure", "drug_exposure_start_date"),
        ("procedure_occurrence", "procedure_date"),
        ("measurement", "measurement_date"),
        ("observation", "observation_date"),
        ("fr_billed_act", "act_date"),
    ]
    events = ibis.union(
        *(warehouse.table(name).select(person_id="person_id", event_date=column) for name, column in dated)
    )
    spans = events.group_by("person_id").aggregate(
        observation_period_start_date=events.event_date.min(),
        observation_period_end_date=events.event_date.max(),
    )
    return spans.select(
        observation_period_id=spans.person_id,
        person_id=spans.person_id,
        observation_period_start_date=spans.observation_period_start_date,
        observation_period_end_date=spans.observation_period_end_date,
        period_type_concept_id=ibis.literal(vocab.omop_concept("type_ehr"), "int64"),
    )


def rebuild_observation_periods(warehouse: Warehouse) -> None:
    warehouse.backend.insert("observation_period", observation_periods(warehouse), overwrite=True)

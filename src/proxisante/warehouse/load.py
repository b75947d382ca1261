"""Committing a batch to the warehouse: upserts by key, bookkeeping, derived tables, in one transaction.

A batch is atomic (a crash or a ``kill -9`` at any point leaves the warehouse exactly as it was, the
engine's transaction log discarding the uncommitted work) and idempotent (rows are upserted on their
deterministic key, so the same rows loaded twice are the same rows).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import ibis
import pyarrow as pa
from ibis.expr.types import Table

from proxisante import vocab
from proxisante.warehouse import schema
from proxisante.warehouse.connection import Warehouse

if TYPE_CHECKING:
    from proxisante.identity.vault import IdentityVault


@dataclass(frozen=True)
class StagedRows:
    """Rows ready for one warehouse table, held in a staging table of the warehouse's connection."""

    table: schema.TableDef
    staged: str


def new_batch_id() -> str:
    """A batch id that sorts by start time and cannot collide between two loads started together."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def loaded_files(warehouse: Warehouse, source: str) -> set[tuple[str, str]]:
    """``(pivot_table, sha256)`` of every file already loaded from ``source``: a load skips them."""
    manifest = warehouse.table("etl_manifest")
    rows = warehouse.execute(manifest.filter(manifest.source == source).select("pivot_table", "sha256"))
    return set(rows.itertuples(index=False, name=None))


def committed_batches(warehouse: Warehouse, batch_ids: list[str]) -> set[str]:
    """Which of ``batch_ids`` the warehouse has committed (each committed batch has its ``etl_batch`` row)."""
    if not batch_ids:
        return set()
    batch = warehouse.table("etl_batch")
    rows = warehouse.execute(batch.filter(batch.batch_id.isin(batch_ids)).select("batch_id"))
    return set(rows["batch_id"])


@dataclass(frozen=True)
class ManifestRow:
    """One row of ``etl_manifest`` before the batch id, source and time are added."""

    pivot_table: str
    file_name: str
    sha256: str
    size_bytes: int
    encoding: str
    delimiter: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int


# The columns a loader's quarantine SELECT gives, in order (the structure is added at the commit).
QUARANTINE_COLUMNS = "batch_id, source, pivot_table, file_name, line, field, reason, value, record"


class Bookkeeping:
    """The quarantine, manifest and batch rows of one batch, staged in the warehouse's DuckDB connection.

    Every loader (pivot, FHIR, OMOP) records its rejected lines and files here as it goes, so that they
    are committed with the rows themselves (:func:`commit_batch`), or not at all.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        batch_id: str,
        source: str,
        temp: Callable[[str], str],
        *,
        structure: str | None = None,
    ) -> None:
        self.con, self.batch_id, self.source, self._temp = con, batch_id, source, temp
        self.structure = structure  # the FINESS of the structure the batch belongs to (``etl_batch.structure``)
        self.rejects = temp("quarantine")
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{self.rejects}" AS SELECT * FROM etl_quarantine LIMIT 0')
        self.files: list[ManifestRow] = []

    def quarantine(self, selects: list[str]) -> None:
        """Add rejected lines: each ``SELECT batch_id, source, pivot_table, file_name, line, field, reason,
        value, record`` takes one ``?`` parameter, the source."""
        if selects:
            self.con.execute(
                f'INSERT INTO "{self.rejects}" ({QUARANTINE_COLUMNS}) {" UNION ALL ".join(selects)}',
                [self.source] * len(selects),
            )

    def staged(self) -> list[StagedRows]:
        """The quarantine, the manifest (one row per file) and the batch row, ready for :func:`commit_batch`."""
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [
            (
                self.batch_id,
                self.source,
                m.pivot_table,
                m.file_name,
                m.sha256,
                m.size_bytes,
                m.encoding,
                m.delimiter,
                m.rows_read,
                m.rows_loaded,
                m.rows_quarantined,
                now,
            )
            for m in self.files
        ]
        names = [c for c in schema.LOAD_MANIFEST.columns if c != schema.STRUCTURE]
        files = self._temp("manifest")
        self.con.register("manifest_rows", pa.table({n: [row[i] for row in rows] for i, n in enumerate(names)}))
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{files}" AS SELECT * FROM manifest_rows')
        self.con.unregister("manifest_rows")
        batch = self._temp("batch")
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{batch}" AS SELECT ?::VARCHAR AS batch_id, ?::VARCHAR AS source, '
            "?::TIMESTAMP AS started_at, ?::TIMESTAMP AS committed_at, count(*) AS files, "
            "sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded, sum(rows_quarantined) AS "
            f'rows_quarantined, ?::VARCHAR AS structure FROM "{files}"',
            [self.batch_id, self.source, now, now, self.structure],
        )
        return [
            StagedRows(schema.QUARANTINE, self.rejects),
            StagedRows(schema.LOAD_MANIFEST, files),
            StagedRows(schema.LOAD_BATCH, batch),
        ]


def commit_batch(
    warehouse: Warehouse,
    staged: list[StagedRows],
    appended: list[StagedRows],
    statements: list[tuple[str, list[object]]] | None = None,
    structure: str | None = None,
) -> None:
    """Upsert ``staged`` rows on their table's key within ``structure`` (the FINESS the batch belongs to,
    written in the ``structure`` column of every row), run ``statements`` (SQL and parameters, on the
    warehouse's DuckDB connection: bookkeeping of earlier batches that this one settles), append
    ``appended`` rows, rebuild derived tables.

    Upserting within the structure is what keeps structures apart: a person (or a professional) loaded
    by two structures is two rows with the same ``person_id``, and a load of one never rewrites the
    other's."""
    con = warehouse.duckdb
    with warehouse.transaction():
        for sql, parameters in statements or []:
            con.execute(sql, parameters)
        for rows in staged:
            if rows.table.key is None:
                raise ValueError(f"{rows.table.name} has no key to upsert on")
            _delete_replaced(con, rows, structure)
            _insert(con, rows, structure)
        for rows in appended:
            _insert(con, rows, structure)
        rebuild_observation_periods(warehouse)


def _insert(con: duckdb.DuckDBPyConnection, rows: StagedRows, structure: str | None) -> None:
    """Append the staged rows, each with the batch's structure."""
    columns = ", ".join(f'"{c}"' for c in rows.table.columns)
    values = ", ".join("?::VARCHAR" if c == schema.STRUCTURE else f'"{c}"' for c in rows.table.columns)
    parameters = [structure] if rows.table.per_structure else []
    con.execute(f'INSERT INTO "{rows.table.name}" ({columns}) SELECT {values} FROM "{rows.staged}"', parameters)


def _delete_replaced(con: duckdb.DuckDBPyConnection, rows: StagedRows, structure: str | None) -> None:
    """Remove the rows that the staged ones replace: same key, same structure."""
    key, table = rows.table.key, rows.table.name
    same = f'EXISTS (SELECT 1 FROM "{rows.staged}" s WHERE s."{key}" = t."{key}")'
    if rows.table.per_structure:
        con.execute(
            f'DELETE FROM "{table}" t WHERE t.structure IS NOT DISTINCT FROM ?::VARCHAR AND {same}', [structure]
        )
    else:
        con.execute(f'DELETE FROM "{table}" t WHERE {same}')


def observation_periods(warehouse: Warehouse) -> Table:
    """One observation period per person and structure, from the first to the last fact it recorded."""
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
        *(
            warehouse.table(name).select(person_id="person_id", event_date=column, structure=schema.STRUCTURE)
            for name, column in dated
        )
    )
    spans = events.group_by("person_id", "structure").aggregate(
        observation_period_start_date=events.event_date.min(),
        observation_period_end_date=events.event_date.max(),
    )
    return spans.select(
        observation_period_id=spans.person_id,
        person_id=spans.person_id,
        observation_period_start_date=spans.observation_period_start_date,
        observation_period_end_date=spans.observation_period_end_date,
        period_type_concept_id=ibis.literal(vocab.omop_concept("type_ehr"), "int64"),
        structure=spans.structure,
    )


def rebuild_observation_periods(warehouse: Warehouse) -> None:
    warehouse.backend.insert("observation_period", observation_periods(warehouse), overwrite=True)


def reconcile_vault(warehouse: Warehouse, vault: IdentityVault) -> None:
    """Settle what a batch killed between its two stores left in the vault: its pending identities are
    promoted if the warehouse committed it, discarded otherwise."""
    vault.reconcile(lambda batch_ids: committed_batches(warehouse, batch_ids))

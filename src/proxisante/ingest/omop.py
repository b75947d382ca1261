"""Loading an OMOP CDM 5.4 dataset (CSV or Parquet) into the warehouse, as one atomic, idempotent batch.

The flow follows the pivot load: find the files (any case: ``PERSON.csv``, ``person.parquet``), skip
those already loaded from this source (same checksum), stage each as text, check every value against
the official DDL (set-based SQL: type, NOT NULL, duplicate keys, unknown person), pseudonymise the
persons, re-key every other id, then commit rows, quarantine and manifest in one transaction
(:func:`proxisante.warehouse.load.commit_batch`). Every line of every loaded file ends up either in
its table or in ``etl_quarantine`` with file, line, field and reason.

What never enters the warehouse: ``person_source_value`` and the source's ``person_id`` (the keyed
``person_id`` replaces them; the link stays in the identity vault), street addresses and coordinates
of ``location``, the serial numbers of ``device_exposure``, and notes (free text may name anyone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import ibis.expr.datatypes as dt
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from proxisante.identity import IdentityVault
from proxisante.identity.pseudonym import Pseudonymiser
from proxisante.ingest.batch import (
    FileReport,
    LoadReport,
    Progress,
    StagingBatch,
    pending_files,
    run_batch,
    tables_of_folder,
)
from proxisante.ingest.files import LINE, FileInfo, InputFileError, RawFile, stage
from proxisante.ingest.pivot import mapping as pivot_mapping
from proxisante.installation import Installation
from proxisante.messages import OMOP_REASONS
from proxisante.omop.cdm import CdmColumn, CdmTable, cdm_tables
from proxisante.warehouse import schema
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.load import Bookkeeping, ManifestRow, StagedRows

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet")
MASK = "***"

# Identifiers of a person or of something a person carries: NULL in the warehouse, masked in quarantine.
BLANKED: dict[str, tuple[str, ...]] = {
    "person": ("person_source_value",),
    "location": ("address_1", "address_2", "latitude", "longitude"),
    "device_exposure": ("unique_device_id", "production_id"),
}
# Also masked in quarantine records: the source's own person key.
MASKED_IN_QUARANTINE = ("person_id", "person_source_value")

# CDM tables read but not loaded, and why (reported with the ignored files).
NOT_LOADED: dict[str, str] = {
    "observation_period": "recalculée par l'entrepôt à partir des événements",
    "note": "texte libre (peut nommer le patient) : non importé",
    "note_nlp": "dérivé des notes : non importé",
    "specimen": "table non tenue par l'entrepôt",
    "fact_relationship": "table non tenue par l'entrepôt",
    "episode": "table non tenue par l'entrepôt",
    "episode_event": "table non tenue par l'entrepôt",
    "metadata": "métadonnées de la source",
    "cdm_source": "métadonnées de la source",
    "cohort": "résultat d'analyse, pas une donnée source",
    "cohort_definition": "résultat d'analyse, pas une donnée source",
}
# Besides the key: values that must be unique within a file (two persons with one source value
# would get one person_id).
UNIQUE: dict[str, tuple[str, ...]] = {"person": ("person_source_value",)}
# Loading order: what others point to first.
FIRST = (
    "vocabulary",
    "domain",
    "concept_class",
    "relationship",
    "concept",
    "location",
    "care_site",
    "provider",
    "person",
)

_PARSE = {
    "integer": "CASE WHEN TRY_CAST({v} AS DOUBLE) = TRY_CAST({v} AS BIGINT) THEN TRY_CAST({v} AS BIGINT) END",
    "numeric": "TRY_CAST({v} AS DOUBLE)",
    "date": "TRY_CAST({v} AS DATE)",
    "timestamp": "TRY_CAST({v} AS TIMESTAMP)",
    "text": "{v}",
}
_BAD = {kind: OMOP_REASONS[f"bad_{kind}"] for kind in ("integer", "numeric", "date", "timestamp")}
# A parsed value the warehouse cannot hold or compute with (``{p}``: the parsed value), by kind.
_UNUSABLE = {
    "numeric": ("NOT isfinite({p})", "nombre non fini (NaN ou infini)"),
    "date": ("NOT isfinite({p})", "date infinie"),
    "timestamp": ("NOT isfinite({p})", "date-heure infinie"),
}
INT32 = (-(2**31), 2**31 - 1)
# Checks beyond the DDL's types: (table, column) -> (SQL over the parsed values ``{column}`` and ``{today}``, the
# day of the load, French reason).
VALUE_CHECKS: dict[tuple[str, str], tuple[str, str]] = {
    ("person", "year_of_birth"): (
        "{year_of_birth} < 1 OR {year_of_birth} > year({today})",
        "année de naissance impossible (dans le futur ou avant l'an 1)",
    ),
    ("person", "month_of_birth"): ("{month_of_birth} NOT BETWEEN 1 AND 12", "mois de naissance invalide (1 à 12)"),
    ("person", "day_of_birth"): (
        "{day_of_birth} NOT BETWEEN 1 AND 31 OR ({year_of_birth} BETWEEN 1 AND 9999 AND {month_of_birth} BETWEEN 1 "
        "AND 12 AND TRY_CAST(printf('%04d-%02d-%02d', {year_of_birth}, {month_of_birth}, {day_of_birth}) AS DATE) "
        "IS NULL)",
        "jour de naissance invalide (pas un jour de ce mois)",
    ),
}


def loadable_tables() -> list[CdmTable]:
    """CDM tables the warehouse holds, in loading order."""
    tables = [t for t in cdm_tables().values() if t.name in schema.TABLES_BY_NAME and t.name not in NOT_LOADED]
    return sorted(tables, key=lambda t: FIRST.index(t.name) if t.name in FIRST else len(FIRST))


def discover(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """OMOP files of a folder by table name (any case), and the other files with why they are left.

    A dataset that cannot be loaded at all raises :class:`InputFileError` (the batch stops, nothing is loaded)."""
    if not folder.is_dir():
        raise InputFileError(f"{folder.name} : pas un dossier de fichiers OMOP CDM")
    found, others = tables_of_folder(folder, {t.name for t in loadable_tables()}, SUFFIXES)
    ignored: list[str] = []
    for name in others:
        stem = name.lower().split(".")[0]
        ignored.append(f"{name} ({NOT_LOADED[stem]})" if stem in NOT_LOADED else name)
    if not found:
        raise InputFileError(f"{folder.name} : aucune table OMOP CDM trouvée (PERSON.csv, person.parquet…)")
    return found, ignored


def load_omop(
    path: Path,
    installation: Installation,
    source: str = "default",
    progress: Progress | None = None,
    *,
    as_of: date | None = None,
    structure: str | None = None,
) -> LoadReport:
    """Load an OMOP CDM 5.4 folder as one atomic, idempotent batch (the signature of
    :class:`proxisante.ingest.Loader`); persons are pseudonymised with the installation's key, and ``as_of``
    is the day the checks take as today (a year of birth after it is impossible)."""
    files, ignored = discover(path)
    report = LoadReport(source, None, ignored_files=ignored)
    pending = pending_files(installation.warehouse, source, files, loadable_tables(), report)
    return run_batch(
        path,
        report,
        pending,
        lambda: _Batch(installation.warehouse, installation.vault, installation.pseudonymiser, source, as_of, progress),
        lambda batch: batch.run(pending, report),
        structure=structure,
    )


def vault_source(source: str) -> str:
    """The vault's source name for the person links of an OMOP source (apart from pivot sources)."""
    return f"omop:{source}"


@dataclass
class _Checked:
    valid: str
    errors: str
    rows_read: int
    rows_valid: int
    rows_rejected: int


class _Batch(StagingBatch):
    """The state of one OMOP batch: staging tables, staged targets, new person links."""

    prefix = "stg_omop_"

    def __init__(
        self,
        warehouse: Warehouse,
        vault: IdentityVault,
        pseudonymiser: Pseudonymiser,
        source: str,
        as_of: date | None,
        progress: Progress | None,
    ) -> None:
        super().__init__(warehouse, vault, source, progress)
        self.pseudonymiser = pseudonymiser
        self.today = f"DATE '{as_of.isoformat()}'" if as_of else "current_date"
        self.namespace = f"omop/{source}"
        self.appended: list[StagedRows] = []
        self.new_links: list[pa.Table] = []

    def run(self, pending: list[tuple[CdmTable, FileInfo]], report: LoadReport) -> None:
        self.con.execute(pivot_mapping.id_macros())
        persons = self._known_persons()
        books = Bookkeeping(self.con, self.batch_id, self.source, self._temp, structure=self.structure)
        for table, info in pending:
            self.progress(f"lecture {info.path.name}", 0)
            raw = stage(self.con, info, self._temp(f"raw_{table.name}"))
            self._check_header(table, raw)
            checked = self._validate(table, raw, persons)
            if table.name == "person":
                self._pseudonymise(checked.valid, persons)
            self._stage_target(table, raw, checked.valid, persons)
            books.quarantine([self._quarantine_sql(table, info, raw, checked)])
            for done in (raw.table, checked.valid):  # the file's rows are staged: free them
                self.con.unregister(done)
                self.con.execute(f'DROP TABLE IF EXISTS "{done}"')
            row = ManifestRow(
                table.name,
                info.path.name,
                info.sha256,
                info.size_bytes,
                info.encoding,
                info.delimiter,
                checked.rows_read,
                checked.rows_valid,
                checked.rows_rejected,
            )
            books.files.append(row)
            report.files.append(FileReport.of(row))
            self.progress(f"validé {info.path.name}", checked.rows_read)
        self.progress("écriture de l'entrepôt", 0)
        links = pa.concat_tables(self.new_links).rename_columns(["patient_id", "person_id"]) if self.new_links else None
        self.commit(self.staged, self.appended + books.staged(), links, vault_source(self.source))
        report.batch_id = self.batch_id
        log.info(
            "OMOP batch %s committed: %d rows read, %d loaded, %d quarantined",
            self.batch_id,
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
        )

    def _known_persons(self) -> str:
        """``src_person_id -> person_id`` of the persons of this source already in the warehouse."""
        links = self.vault.patient_links(vault_source(self.source))
        self.con.register("omop_vault_links", links)
        persons = self._temp("persons")
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{persons}" AS SELECT l.patient_id AS src_person_id, l.person_id '
            "FROM omop_vault_links l WHERE l.person_id IN (SELECT person_id FROM person)"
        )
        self.con.unregister("omop_vault_links")
        return persons

    def _check_header(self, table: CdmTable, raw: RawFile) -> None:
        missing = [c.name for c in table.columns if c.required and c.name not in raw.columns]
        if missing:
            raise InputFileError(
                f"{raw.info.path.name} : ligne 1 : colonne(s) obligatoire(s) de {table.name} absente(s) : "
                f"{', '.join(missing)}"
            )

    def _validate(self, table: CdmTable, raw: RawFile, persons: str) -> _Checked:
        """Errors (line, field, reason, value) and the valid rows, both as staging tables.

        One scan finds the lines with any error (usually none); the reasons are then spelt out field by
        field on those lines only.
        """
        present = [c for c in table.columns if c.name in raw.columns]
        target = schema.TABLES_BY_NAME[table.name].schema
        reasons = {
            c.name: _column_reason(c, c.name not in table.id_columns() and target.get(c.name) == dt.int32)
            for c in present
            if c.required or c.kind != "text"
        }
        parsed = {c.name: _PARSE[c.kind].format(v=_value(c.name)) if c in present else "NULL" for c in table.columns}
        for (name, column), (violated, reason) in VALUE_CHECKS.items():
            if name == table.name and column in reasons:
                check = f"CASE WHEN {violated.format(**parsed, today=self.today)} THEN {_sql_text(reason)} END"
                reasons[column] = f"coalesce({reasons[column]}, {check})"
        if table.has_person and table.name != "person":
            v = _person_key()
            reasons["person_id"] = (
                f'CASE WHEN {v} IS NOT NULL AND {v} NOT IN (SELECT src_person_id FROM "{persons}") '
                f"THEN {_sql_text(OMOP_REASONS['unknown_person'])} END"
            )
        suspects = self._temp(f"suspects_{table.name}")
        any_error = " OR ".join(f"({r}) IS NOT NULL" for r in reasons.values()) or "FALSE"
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{suspects}" AS SELECT * FROM "{raw.table}" WHERE {any_error}')
        checks = [
            f"SELECT {LINE} AS line, '{name}' AS field, {reason} AS reason, {_shown(table.name, name)} AS value "
            f'FROM "{suspects}" WHERE {reason} IS NOT NULL'
            for name, reason in reasons.items()
        ]
        keyed = schema.TABLES_BY_NAME[table.name].key
        for name in [k for k in (keyed, *UNIQUE.get(table.name, ())) if k and k in raw.columns]:
            v = _value(name)
            checks.append(
                f"SELECT {LINE} AS line, '{name}' AS field, "
                f"{_sql_text(OMOP_REASONS['duplicate'].format(field=name))} AS reason, "
                f'{_shown(table.name, name)} AS value FROM "{raw.table}" WHERE {v} IN '
                f'(SELECT {v} FROM "{raw.table}" WHERE {v} IS NOT NULL GROUP BY ALL HAVING count(*) > 1) '
                f"QUALIFY row_number() OVER (PARTITION BY {v} ORDER BY {LINE}) > 1"
            )
        malformed = self._temp(f"malformed_{table.name}")
        self.con.register(
            malformed,
            pa.table(
                {
                    "line": pa.array([m[0] for m in raw.malformed], pa.int64()),
                    "field": pa.array([m[1] for m in raw.malformed], pa.string()),
                    "reason": pa.array([m[2] for m in raw.malformed], pa.string()),
                }
            ),
        )
        checks.append(f'SELECT line, field, reason, NULL::VARCHAR AS value FROM "{malformed}"')
        errors = self._temp(f"errors_{table.name}")
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{errors}" AS {" UNION ALL ".join(checks)}')
        valid = self._temp(f"valid_{table.name}")
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{valid}" AS SELECT * FROM "{raw.table}" '
            f'WHERE {LINE} NOT IN (SELECT line FROM "{errors}")'
        )
        read = _count(self.con, raw.table) + len(raw.malformed)
        rows_valid = _count(self.con, valid)
        return _Checked(valid, errors, read, rows_valid, read - rows_valid)

    def _pseudonymise(self, valid: str, persons: str) -> None:
        """Keyed ``person_id`` of each valid person, added to the known persons; links kept for the vault."""
        rows = self.con.execute(
            f"SELECT {_person_key()}, nullif(trim(person_source_value), '') FROM \"{valid}\""
            if "person_source_value" in _columns(self.con, valid)
            else f'SELECT {_person_key()}, NULL FROM "{valid}"'
        ).fetchall()
        person_ids = [self.pseudonymiser.omop_person_id(self.source, r[1], r[0]) for r in rows]
        links = pa.table(
            {
                "src_person_id": pa.array([r[0] for r in rows], pa.string()),
                "person_id": pa.array(person_ids, pa.int64()),
            }
        )
        self.con.register("omop_new_persons", links)
        self.con.execute(
            f'DELETE FROM "{persons}" WHERE src_person_id IN (SELECT src_person_id FROM omop_new_persons);'
            f'INSERT INTO "{persons}" SELECT src_person_id, person_id FROM omop_new_persons'
        )
        self.con.unregister("omop_new_persons")
        self.new_links.append(links)

    def _stage_target(self, table: CdmTable, raw: RawFile, valid: str, persons: str) -> None:
        target = schema.TABLES_BY_NAME[table.name]
        ids = set(table.id_columns())
        exprs = []
        for name, dtype in target.schema.items():
            sql_type = DuckDBType.to_string(dtype)
            if name not in raw.columns or name in BLANKED.get(table.name, ()):
                expr = "NULL"
            elif name == "person_id":
                expr = "p.person_id"
            else:
                parsed = _PARSE[table.column(name).kind].format(v=_value(name, "v"))
                expr = f"stable_id('{self.namespace}', ({parsed})::VARCHAR)" if name in ids else parsed
            exprs.append(f"CAST({expr} AS {sql_type}) AS {name}")
        join = f'JOIN "{persons}" p ON p.src_person_id = {_person_key("v")}' if table.has_person else ""
        rows = self._temp(f"target_{table.name}")
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{rows}" AS SELECT {", ".join(exprs)} FROM "{valid}" v {join}')
        if target.key is not None:
            self.staged.append(StagedRows(target, rows))
            return
        # No key: the row is its content; add only the rows the warehouse does not have yet.
        new = self._temp(f"new_{table.name}")
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{new}" AS SELECT DISTINCT * FROM "{rows}" '
            f'EXCEPT SELECT * FROM "{target.name}"'
        )
        self.appended.append(StagedRows(target, new))

    def _quarantine_sql(self, table: CdmTable, info: FileInfo, raw: RawFile, checked: _Checked) -> str:
        masked = set(MASKED_IN_QUARANTINE) | set(BLANKED.get(table.name, ()))
        record = ", ".join(f'"{c}" := {_masked(f"r.{_q(c)}") if c in masked else f"r.{_q(c)}"}' for c in raw.columns)
        name = _sql_text(info.path.name)
        return (
            f"SELECT '{self.batch_id}' AS batch_id, ? AS source, '{table.name}' AS pivot_table, "
            f"{name} AS file_name, e.line, e.field, e.reason, e.value, "
            f'to_json(struct_pack({record}))::VARCHAR AS record FROM "{checked.errors}" e '
            f'LEFT JOIN "{raw.table}" r ON r.{LINE} = e.line'
        )


def _q(name: str) -> str:
    return f'"{name}"'


def _value(name: str, alias: str | None = None) -> str:
    """A staged text value, trimmed, NULL when empty (CSV has no other NULL)."""
    column = f"{alias}.{_q(name)}" if alias else _q(name)
    return f"nullif(trim({column}), '')"


def _column_reason(column: CdmColumn, int32: bool = False) -> str:
    """Why a value of the column is wrong (missing, not parsable, not storable in the warehouse's type:
    ``int32`` when it holds 32-bit integers), or NULL."""
    v = _value(column.name)
    parsed = _PARSE[column.kind].format(v=v)
    missing = _sql_text(OMOP_REASONS["missing"]) if column.required else "NULL"
    bad = _sql_text(_BAD[column.kind]) if column.kind in _BAD else "NULL"
    branches = [f"WHEN {v} IS NULL THEN {missing}", f"WHEN {parsed} IS NULL THEN {bad}"]
    if column.kind in _UNUSABLE:
        violated, reason = _UNUSABLE[column.kind]
        branches.append(f"WHEN {violated.format(p=parsed)} THEN {_sql_text(reason)}")
    if column.kind == "integer" and int32:
        low, high = INT32
        branches.append(f"WHEN {parsed} NOT BETWEEN {low} AND {high} THEN {_sql_text(OMOP_REASONS['int32'])}")
    return f"CASE {' '.join(branches)} END"


def _person_key(alias: str | None = None) -> str:
    """The source's person_id as the text of its integer ("007" and "7" are one person)."""
    return f"({_PARSE['integer'].format(v=_value('person_id', alias))})::VARCHAR"


def _shown(table: str, column: str) -> str:
    """The value written to the quarantine: masked for identifiers."""
    if column in MASKED_IN_QUARANTINE or column in BLANKED.get(table, ()):
        return _masked(_q(column))
    return _q(column)


def _masked(expr: str) -> str:
    return f"CASE WHEN nullif({expr}, '') IS NULL THEN {expr} ELSE {_sql_text(MASK)} END"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f'DESCRIBE "{table}"').fetchall()]


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(row[0]) if row else 0


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"

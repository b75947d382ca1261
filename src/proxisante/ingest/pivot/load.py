"""Loading a folder of pivot-format files into the warehouse.

The flow of one batch: find the files (a file named like a table that cannot be read refuses the
batch), skip those already loaded (same checksum), stage each as text, validate it (set-based, see
:mod:`.validation`), pseudonymise patients (``person_id`` to the warehouse, identifiers kept for the
vault), map the valid rows to warehouse rows, then commit: the identities as pending rows of the vault,
the warehouse rows (rows, quarantine, manifest) in one transaction, then the promotion of the pending
identities (:meth:`StagingBatch.commit`). Every line of every file ends up either loaded or in the
quarantine with its reason: ``rows_read == rows_loaded + rows_quarantined`` for each file.

A line rejected only because the patient, professional, encounter or site it points to is not loaded
yet *waits* (``etl_waiting``, and the quarantine says so): every later batch of the same source reads it
again, from its original file and line, and loads it once the reference has arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa

from proxisante import vocab
from proxisante.identity import IdentityVault, Pseudonymiser
from proxisante.identity.vault import IDENTITY_COLUMNS
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
from proxisante.ingest.pivot.format import TABLES, TABLES_BY_NAME, PivotTable
from proxisante.ingest.pivot.validation import Reference, References, Validated, validate
from proxisante.installation import Installation
from proxisante.warehouse import schema
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.load import (
    Bookkeeping,
    ManifestRow,
    StagedRows,
)

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet", ".txt")
# The columns of a waiting line as the batch stages it (the structure is added at the commit).
WAITING_COLUMNS = [c for c in schema.WAITING.columns if c != schema.STRUCTURE]


class BatchInput(Protocol):
    """One pivot table's rows from one source (a pivot file, or FHIR resources staged by views).

    The batch stages it as text, validates it, and asks it how to place each rejected line
    (file and line of the original input) and what to record in the manifest.
    """

    spec: PivotTable

    @property
    def label(self) -> str:
        """Shown in progress messages."""
        ...

    def stage(self, con: duckdb.DuckDBPyConnection, table: str) -> RawFile: ...

    def quarantine_sql(self, batch_id: str, errors: str) -> str:
        """``SELECT batch_id, source, pivot_table, file_name, line, field, reason, value, record``
        over ``errors`` (one ``?`` parameter: the source)."""
        ...

    def manifest_rows(self, con: duckdb.DuckDBPyConnection, result: Validated) -> list[ManifestRow]: ...


@dataclass
class PivotFile:
    """A pivot-format file (CSV or Parquet) as a batch input."""

    spec: PivotTable
    info: FileInfo

    @property
    def label(self) -> str:
        return self.info.path.name

    def stage(self, con: duckdb.DuckDBPyConnection, table: str) -> RawFile:
        return stage(con, self.info, table)

    def quarantine_sql(self, batch_id: str, errors: str) -> str:
        return (
            f"SELECT '{batch_id}' AS batch_id, ? AS source, '{self.spec.name}' AS pivot_table, "
            f"{_sql_text(self.info.path.name)} AS file_name, line, field, reason, value, record "
            f'FROM "{errors}"'
        )

    def manifest_rows(self, con: duckdb.DuckDBPyConnection, result: Validated) -> list[ManifestRow]:
        info = self.info
        return [
            ManifestRow(
                self.spec.name,
                info.path.name,
                info.sha256,
                info.size_bytes,
                info.encoding,
                info.delimiter,
                result.rows_read,
                result.rows_valid,
                result.lines_rejected,
            )
        ]


def discover(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Pivot files of a folder by table name (any case), and the names of the other files.

    A name of a table whose only file cannot be read (a folder, a FIFO, a dangling link, an unreadable or
    compressed file) refuses the batch: loading the others would quarantine every row pointing to it."""
    if not folder.is_dir():
        what = "dossier introuvable" if not folder.exists() else "ce n'est pas un dossier"
        raise InputFileError(f"{folder} : {what} (donnez le dossier des fichiers exportés)")
    known = {t.name for t in TABLES}
    found, ignored = tables_of_folder(folder, known, SUFFIXES)
    return found, [name for name in ignored if name != "defects.json"]


def load_pivot(
    path: Path,
    installation: Installation,
    source: str = "default",
    progress: Progress | None = None,
    *,
    as_of: date | None = None,
    structure: str | None = None,
) -> LoadReport:
    """Load a folder of pivot files as one atomic, idempotent batch (the signature of
    :class:`proxisante.ingest.Loader`); ``as_of`` is the day the checks take as today."""
    files, ignored = discover(path)
    report = LoadReport(source, None, ignored_files=ignored)
    pending_inputs = pending_files(installation.warehouse, source, files, TABLES, report)
    pending = [PivotFile(table, info) for table, info in pending_inputs]
    return run_batch(
        path,
        report,
        pending,
        lambda: Batch(
            installation.warehouse,
            installation.vault,
            installation.pseudonymiser,
            source,
            as_of or date.today(),
            progress,
        ),
        lambda batch: batch.run(pending, report),
        structure=structure,
    )


class Batch(StagingBatch):
    """The state of one pivot batch while it runs: staging tables, reference tables, reports."""

    def __init__(
        self,
        warehouse: Warehouse,
        vault: IdentityVault,
        pseudonymiser: Pseudonymiser,
        source: str,
        as_of: date,
        progress: Progress | None,
    ) -> None:
        super().__init__(warehouse, vault, source, progress)
        self.pseudonymiser = pseudonymiser
        self.as_of = as_of
        self.identities: list[pa.Table] = []  # for the vault, at the commit

    def run(
        self,
        pending: Sequence[BatchInput],
        report: LoadReport,
        rejected: list[str] | None = None,
        manifest: list[ManifestRow] | None = None,
    ) -> None:
        """Validate, map and commit every input. ``rejected`` (quarantine ``SELECT``s, one ``?`` for the
        source) and ``manifest`` hold what a format rejected before any pivot table (e.g. invalid JSON)."""
        self.con.execute(pivot_mapping.id_macros())
        refs = self._references()
        books = Bookkeeping(self.con, self.batch_id, self.source, self._temp, structure=self.structure)
        books.quarantine(list(rejected or []))
        books.files += manifest or []
        report.files += [FileReport.of(row) for row in books.files]
        waiting = Waiting(self)
        valid_tables: dict[str, list[str]] = {}
        for item in waiting.inputs(pending):
            spec = item.spec
            self.progress(f"lecture {item.label}", 0)
            raw = item.stage(self.con, self._temp(f"raw_{spec.name}_{len(self.staging)}"))
            result = validate(self.con, raw, spec, refs, self.as_of)
            self.staging += [result.valid, result.checked, result.errors]
            valid = self._pseudonymise(result.valid) if spec.name == "patients" else result.valid
            self._extend_references(spec, valid, refs)
            self._stage_targets(spec, valid)
            valid_tables.setdefault(spec.name, []).append(valid)
            books.quarantine([item.quarantine_sql(self.batch_id, result.errors)])
            waiting.set_aside(item, raw, result)
            if isinstance(item, WaitingInput):
                report.files.append(waiting.read_again(item, result))
            else:
                waiting.loaded_from_file(spec, valid)
                rows = item.manifest_rows(self.con, result)
                books.files += rows
                report.files += [FileReport.of(row) for row in rows]
            self.con.unregister(raw.table)  # the file's rows are no longer needed: free them
            self.progress(f"validé {item.label}", result.rows_read)
        self._stage_concepts(valid_tables)
        self.progress("écriture de l'entrepôt", 0)
        waiting_rows, settled = waiting.finish(books)
        identities = pa.concat_tables(self.identities) if self.identities else None
        self.commit(self.staged, waiting_rows + books.staged(), identities, self.source, settled)
        report.batch_id = self.batch_id
        log.info(
            "batch %s committed: %d rows read, %d loaded, %d quarantined",
            self.batch_id,
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
        )

    def _references(self) -> References:
        """Known patients, professionals, encounters and sites: in the warehouse or in this batch."""
        links = self.vault.patient_links(self.source)
        self.con.register("vault_links", links)
        patients = self._temp("known_patients")
        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE "{patients}" AS
            SELECT l.patient_id, l.person_id,
                   make_date(p.year_of_birth, p.month_of_birth, p.day_of_birth) AS birth_date,
                   d.death_date
            FROM vault_links l JOIN person p USING (person_id) LEFT JOIN death d USING (person_id)
            """
        )
        self.con.unregister("vault_links")
        refs: References = {"patients": Reference(patients, "patient_id")}
        # Professionals are matched on the RPPS itself (kept in provider_source_value); encounters and
        # sites only exist in the warehouse as ids, so their local key is hashed to be compared.
        for table, known_sql, key in (
            ("professionals", "SELECT provider_source_value AS id FROM provider", "{v}"),
            ("encounters", "SELECT visit_occurrence_id AS id FROM visit_occurrence", self._id_template("encounters")),
            ("sites", "SELECT care_site_id AS id FROM care_site", self._id_template("sites")),
        ):
            name = self._temp(f"known_{table}")
            self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {known_sql}')
            refs[table] = Reference(name, "id", key)
        return refs

    def _id_template(self, table: str) -> str:
        return f"stable_id({pivot_mapping.namespace(self.source, table)}, {{v}})"

    def _extend_references(self, spec: PivotTable, valid: str, refs: References) -> None:
        if spec.name not in refs:
            return
        ref = refs[spec.name]
        if spec.name == "patients":
            self.con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE "{ref.table}" AS
                SELECT patient_id, person_id, birth_date, death_date FROM "{valid}"
                UNION ALL BY NAME
                SELECT * FROM "{ref.table}" WHERE patient_id NOT IN (SELECT patient_id FROM "{valid}")
                """
            )
            return
        key = ref.key.replace("{v}", spec.key)
        self.con.execute(
            f'INSERT INTO "{ref.table}" SELECT DISTINCT {key} FROM "{valid}" '
            f'WHERE {key} NOT IN (SELECT id FROM "{ref.table}")'
        )

    def _pseudonymise(self, valid: str) -> str:
        """``person_id`` for each valid patient; identities to the vault; a table without them."""
        columns = ["patient_id", *IDENTITY_COLUMNS]
        identities = self.con.execute(f'SELECT {LINE}, {", ".join(columns)} FROM "{valid}"').to_arrow_table()
        person_ids = self.pseudonymiser.person_ids(
            identities["ins"].to_pylist(),
            identities["nir"].to_pylist(),
            [d.isoformat() if d else None for d in identities["birth_date"].to_pylist()],
        )
        identities = identities.append_column("person_id", pa.array(person_ids, pa.int64()))
        self.identities.append(identities.drop_columns([LINE]))
        self.con.register("pseudonyms", identities.select([LINE, "person_id"]))
        kept = [
            c
            for c in self._columns(valid)
            if c not in IDENTITY_COLUMNS or c in ("birth_date", "postcode", "commune_insee")
        ]
        pseudonymised = self._temp("patients_pseudonymised")
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{pseudonymised}" AS SELECT {", ".join("v." + c for c in kept)}, '
            f'p.person_id FROM "{valid}" v JOIN pseudonyms p USING ({LINE})'
        )
        self.con.unregister("pseudonyms")
        return pseudonymised

    def _columns(self, table: str) -> list[str]:
        return [row[0] for row in self.con.execute(f'DESCRIBE "{table}"').fetchall()]

    def _stage_targets(self, spec: PivotTable, valid: str) -> None:
        for n, target in enumerate(pivot_mapping.targets(spec.name, self.source)):
            name = self._temp(f"{spec.name}_{len(self.staged)}_{n}_{target.table.name}")
            sql = pivot_mapping.select_sql(target, valid)
            if target.dedupe:
                sql += f" QUALIFY row_number() OVER (PARTITION BY {target.table.key}) = 1"
            self.con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {sql}')
            self.staged.append(StagedRows(target.table, name))

    def _stage_concepts(self, valid_tables: dict[str, list[str]]) -> None:
        """Local concepts for every code of the shipped lists and every code seen in this batch."""
        listed = []
        for row in vocab.code_list("vocabularies"):
            if row["code_list"]:
                for entry in vocab.code_list(row["code_list"]):
                    listed.append(
                        (
                            row["code"],
                            entry["code"],
                            entry.get("label_fr") or entry["code"],
                            row["domain_id"],
                            row["concept_class_id"],
                        )
                    )
        self.con.register(
            "listed_codes",
            pa.table(
                {
                    k: pa.array([r[i] for r in listed], pa.string())
                    for i, k in enumerate(("vocabulary_id", "concept_code", "concept_name", "domain_id", "class_id"))
                }
            ),
        )
        seen = [
            f"SELECT DISTINCT '{vocabulary}' AS vocabulary_id, {column} AS concept_code FROM \"{valid}\" "
            f"WHERE {column} IS NOT NULL"
            for table, valids in valid_tables.items()
            for valid in valids
            for vocabulary, column in pivot_mapping.CODED_COLUMNS.get(table, ())
        ]
        seen_sql = " UNION ".join(seen) or "SELECT NULL::VARCHAR AS vocabulary_id, NULL::VARCHAR AS concept_code"
        vocabularies = {r["code"]: r for r in vocab.code_list("vocabularies")}
        domain = " ".join(f"WHEN '{k}' THEN '{v['domain_id']}'" for k, v in vocabularies.items())
        concepts = self._temp("concepts")
        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE "{concepts}" AS
            SELECT local_concept_id(c.vocabulary_id, c.concept_code) AS concept_id,
                   coalesce(l.concept_name, c.concept_code) AS concept_name,
                   coalesce(l.domain_id, CASE c.vocabulary_id {domain} END) AS domain_id,
                   c.vocabulary_id, coalesce(l.class_id, c.vocabulary_id) AS concept_class_id,
                   NULL AS standard_concept, c.concept_code, DATE '1970-01-01' AS valid_start_date,
                   DATE '2099-12-31' AS valid_end_date, NULL AS invalid_reason
            FROM (SELECT vocabulary_id, concept_code FROM listed_codes UNION ({seen_sql})) c
            LEFT JOIN listed_codes l USING (vocabulary_id, concept_code)
            WHERE c.concept_code IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY concept_id ORDER BY c.vocabulary_id) = 1
            """
        )
        self.con.unregister("listed_codes")
        self.staged.append(StagedRows(schema.CONCEPT_TABLE, concepts))
        vocabulary_rows = self._temp("vocabularies")
        self.con.register(
            "vocabulary_list",
            pa.table(
                {
                    "vocabulary_id": list(vocabularies),
                    "vocabulary_name": [v["name"] for v in vocabularies.values()],
                    "vocabulary_reference": [v["reference"] for v in vocabularies.values()],
                }
            ),
        )
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{vocabulary_rows}" AS SELECT vocabulary_id, vocabulary_name, '
            "vocabulary_reference, NULL::VARCHAR AS vocabulary_version, 0::BIGINT AS vocabulary_concept_id "
            "FROM vocabulary_list"
        )
        self.con.unregister("vocabulary_list")
        self.staged.append(StagedRows(schema.VOCABULARY, vocabulary_rows))


# Shown in the quarantine for a line that waits for its reference, and for one a newer line replaced.
WAITING_REASON = " : ligne en attente, chargée au prochain chargement de cette source qui apporte la référence"
SUPERSEDED_REASON = "ligne en attente remplacée par une ligne plus récente de même {key} : jamais chargée"


@dataclass
class WaitingInput:
    """The lines of one file of an earlier batch that wait for a reference, read again as a batch input.

    Their quarantine rows keep the batch that read the file, its name and their line."""

    spec: PivotTable
    origin: str  # the batch that read the file
    file_name: str
    source: str

    @property
    def label(self) -> str:
        return f"{self.file_name} (lignes en attente)"

    @property
    def where(self) -> tuple[str, list[object]]:
        return (
            "source = ? AND batch_id = ? AND pivot_table = ? AND file_name = ?",
            [self.source, self.origin, self.spec.name, self.file_name],
        )

    def stage(self, con: duckdb.DuckDBPyConnection, table: str) -> RawFile:
        where, parameters = self.where
        keys = {
            k
            for (k,) in con.execute(
                f"SELECT DISTINCT unnest(json_keys(record::JSON)) FROM etl_waiting WHERE {where}", parameters
            ).fetchall()
        }
        columns = [c for c in self.spec.column_names if c in keys]
        values = ", ".join(f"json_extract_string(record, '$.{c}') AS \"{c}\"" for c in columns)
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT line AS {LINE}, {values} FROM etl_waiting '
            f"WHERE {where} ORDER BY line",
            parameters,
        )
        return RawFile(FileInfo(Path(self.file_name), "", 0, "", ""), table, columns)

    def quarantine_sql(self, batch_id: str, errors: str) -> str:
        return (
            f"SELECT {_sql_text(self.origin)} AS batch_id, ? AS source, '{self.spec.name}' AS pivot_table, "
            f'{_sql_text(self.file_name)} AS file_name, line, field, reason, value, record FROM "{errors}"'
        )

    def manifest_rows(self, con: duckdb.DuckDBPyConnection, result: Validated) -> list[ManifestRow]:
        return []  # the file's own manifest row is updated instead (see Waiting.finish)


class Waiting:
    """The lines of a batch rejected only for a reference not loaded yet (they wait in ``etl_waiting``), and
    the lines of earlier batches of the source it reads again.

    A line read again leaves its old quarantine rows: it is loaded (its file's manifest row counts it as
    loaded, no longer quarantined), or quarantined anew with today's reasons, or waits again. A waiting
    line whose key a file of the batch loads is replaced by that newer line and stops waiting."""

    def __init__(self, batch: Batch) -> None:
        self.batch, self.con = batch, batch.con
        self.lines = batch._temp("waiting")  # etl_waiting's columns, and the line's parsed key
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{self.lines}" AS '
            "SELECT * EXCLUDE (structure), NULL::VARCHAR AS key FROM etl_waiting LIMIT 0"
        )
        self.read = batch._temp("waiting_read")  # the earlier lines read again
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{self.read}" AS '
            "SELECT batch_id, pivot_table, file_name, line FROM etl_waiting LIMIT 0"
        )
        self.loaded = batch._temp("waiting_loaded")  # per earlier file: how many of its lines now load
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{self.loaded}" '
            "(batch_id VARCHAR, pivot_table VARCHAR, file_name VARCHAR, n BIGINT)"
        )
        self.from_files: dict[str, list[str]] = {}  # pivot table -> valid rows of the batch's files

    def inputs(self, pending: Sequence[BatchInput]) -> list[BatchInput]:
        """``pending`` and the earlier files' waiting lines, in the order of the pivot tables (what others
        point to first); for one table, the waiting lines first, so that a newer file's row wins."""
        groups = self.con.execute(
            "SELECT pivot_table, batch_id, file_name FROM etl_waiting WHERE source = ? GROUP BY ALL "
            "ORDER BY batch_id, file_name, pivot_table",
            [self.batch.source],
        ).fetchall()
        earlier = [
            WaitingInput(TABLES_BY_NAME[t], b, f, self.batch.source) for t, b, f in groups if t in TABLES_BY_NAME
        ]
        if not earlier:
            return list(pending)
        order = {t.name: n for n, t in enumerate(TABLES)}
        inputs: list[BatchInput] = [*earlier, *pending]
        return sorted(inputs, key=lambda i: (order.get(i.spec.name, len(order)), not isinstance(i, WaitingInput)))

    def set_aside(self, item: BatchInput, raw: RawFile, result: Validated) -> None:
        """The lines of ``item`` whose only errors are unknown references: they wait."""
        if not result.lines_rejected:
            return
        fields = [c.name for c in item.spec.columns if c.referenced_table]
        if not fields:
            return
        columns = self.batch._columns(result.checked)
        references = [c for c in columns if c.startswith("x_") and c.endswith("__reference")]
        others = [f'c."{c}" IS NULL' for c in columns if c.startswith(("e_", "x_")) and c not in references]
        only_references = " AND ".join(["(" + " OR ".join(f'c."{c}" IS NOT NULL' for c in references) + ")", *others])
        record = ", ".join(f'"{c}" := r."{c}"' for c in item.spec.column_names if c in raw.columns)
        found = self.batch._temp(f"waiting_found_{len(self.batch.staging)}")
        # The candidates are the few lines whose every error is on a reference column; the checked row then
        # says whether each is only an unknown reference. Shaped like the validator's errors, so that the
        # input's own quarantine SELECT places each line in its file (a FHIR input spans several files); the
        # parsed key rides in ``value``.
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{found}" AS '
            f'WITH candidates AS (SELECT line FROM "{result.errors}" GROUP BY line '
            f"HAVING bool_and(coalesce(field IN ({', '.join(_sql_text(f) for f in fields)}), FALSE))) "
            f'SELECT k.line, CAST(c."p_{item.spec.key}" AS VARCHAR) AS value '
            f'FROM candidates k JOIN "{result.checked}" c ON c.{LINE} = k.line WHERE {only_references}'
        )
        lines = [line for (line,) in self.con.execute(f'SELECT line FROM "{found}"').fetchall()]
        if not lines:
            return
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{found}" AS SELECT f.line, NULL::VARCHAR AS field, '
            f"NULL::VARCHAR AS reason, f.value, to_json(struct_pack({record}))::VARCHAR AS record "
            f'FROM "{found}" f JOIN (SELECT * FROM "{raw.table}" WHERE {LINE} IN (SELECT unnest(?::BIGINT[]))) r '
            f"ON r.{LINE} = f.line",
            [lines],
        )
        self.con.execute(
            f'INSERT INTO "{self.lines}" SELECT batch_id, source, pivot_table, file_name, line, record, value '
            f"FROM ({item.quarantine_sql(self.batch.batch_id, found)})",
            [self.batch.source],
        )

    def read_again(self, item: WaitingInput, result: Validated) -> FileReport:
        where, parameters = item.where
        self.con.execute(
            f'INSERT INTO "{self.read}" SELECT batch_id, pivot_table, file_name, line FROM etl_waiting WHERE {where}',
            parameters,
        )
        self.con.execute(
            f'INSERT INTO "{self.loaded}" VALUES (?, ?, ?, ?)',
            [item.origin, item.spec.name, item.file_name, result.rows_valid],
        )
        return FileReport(
            item.spec.name, item.label, "", result.rows_read, result.rows_valid, result.lines_rejected, waiting=True
        )

    def loaded_from_file(self, spec: PivotTable, valid: str) -> None:
        self.from_files.setdefault(spec.name, []).append(valid)

    def _count(self, table: str, where: str = "TRUE") -> int:
        row = self.con.execute(f'SELECT count(*) FROM "{table}" WHERE {where}').fetchone()
        return int(row[0]) if row else 0

    def finish(self, books: Bookkeeping) -> tuple[list[StagedRows], list[tuple[str, list[object]]]]:
        """Say in the quarantine which lines wait (or were replaced); the waiting lines to append, and the
        statements that settle the earlier lines read again, for the commit."""
        same_line = (
            "{a}.batch_id = {b}.batch_id AND {a}.pivot_table = {b}.pivot_table "
            "AND {a}.file_name = {b}.file_name AND {a}.line = {b}.line"
        )
        for table, valids in self.from_files.items():
            if not self._count(self.lines, f"pivot_table = '{table}'"):
                continue
            key = TABLES_BY_NAME[table].key
            newer = " UNION ALL ".join(f'SELECT CAST("{key}" AS VARCHAR) AS key FROM "{v}"' for v in valids)
            replaced = self.batch._temp(f"waiting_replaced_{table}")
            self.con.execute(
                f'CREATE OR REPLACE TEMP TABLE "{replaced}" AS SELECT * FROM "{self.lines}" '
                f"WHERE pivot_table = ? AND key IN ({newer})",
                [table],
            )
            self.con.execute(
                f'UPDATE "{books.rejects}" q SET reason = ? FROM "{replaced}" w WHERE {same_line.format(a="q", b="w")}',
                [SUPERSEDED_REASON.format(key=key)],
            )
            self.con.execute(
                f'DELETE FROM "{self.lines}" l WHERE EXISTS (SELECT 1 FROM "{replaced}" w '
                f"WHERE {same_line.format(a='l', b='w')})"
            )
        self.con.execute(
            f'UPDATE "{books.rejects}" q SET reason = q.reason || ? FROM "{self.lines}" w '
            f"WHERE {same_line.format(a='q', b='w')}",
            [WAITING_REASON],
        )
        rows = self.batch._temp("waiting_rows")
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{rows}" AS SELECT {", ".join(WAITING_COLUMNS)} FROM "{self.lines}"'
        )
        if not self._count(self.read):
            return [StagedRows(schema.WAITING, rows)], []
        source: list[object] = [self.batch.source]
        read = f'EXISTS (SELECT 1 FROM "{self.read}" r WHERE {{}})'
        statements: list[tuple[str, list[object]]] = [
            (
                f"DELETE FROM etl_quarantine q WHERE q.source = ? AND {read.format(same_line.format(a='r', b='q'))}",
                source,
            ),
            (f"DELETE FROM etl_waiting w WHERE w.source = ? AND {read.format(same_line.format(a='r', b='w'))}", source),
            (
                f"UPDATE etl_manifest SET rows_loaded = etl_manifest.rows_loaded + c.n, rows_quarantined = "
                f'etl_manifest.rows_quarantined - c.n FROM "{self.loaded}" c WHERE etl_manifest.source = ? '
                "AND etl_manifest.batch_id = c.batch_id AND etl_manifest.pivot_table = c.pivot_table "
                "AND etl_manifest.file_name = c.file_name",
                source,
            ),
        ]
        return [StagedRows(schema.WAITING, rows)], statements


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"

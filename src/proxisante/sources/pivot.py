"""Loading a folder of pivot-format files into the warehouse.

The flow of one batch: find the files, skip those already loaded (same checksum), stage each as
text, validate it (set-based, see :mod:`.validation`), pseudonymise patients (identifiers go to the
vault, ``person_id`` to the warehouse), map the valid rows to warehouse rows, then commit everything
(rows, quarantine, manifest) in one transaction. Every line of every file ends up either loaded or
in the quarantine with its reason: ``rows_read == rows_loaded + rows_quarantined`` for each file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol, TypeVar

import duckdb
import pyarrow as pa

from proxisante import vocab
from proxisante.identity import IdentityVault, Pseudonymiser
from proxisante.identity.vault import IDENTITY_COLUMNS
from proxisante.sources import pivot_mapping
from proxisante.sources.files import LINE, FileInfo, PivotFileError, RawFile, inspect_file, stage
from proxisante.sources.pivot_format import TABLES, PivotTable
from proxisante.sources.validation import Reference, References, Validated, validate
from proxisante.warehouse import schema
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.load import Bookkeeping, ManifestRow, StagedRows, commit_batch, loaded_files, new_batch_id

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
SUFFIXES = (".csv", ".parquet", ".txt")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


@dataclass
class FileReport:
    """What happened to one file."""

    pivot_table: str
    file_name: str
    sha256: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    skipped: bool = False  # already loaded: same checksum, same source

    @classmethod
    def of(cls, row: ManifestRow) -> FileReport:
        return cls(row.pivot_table, row.file_name, row.sha256, row.rows_read, row.rows_loaded, row.rows_quarantined)


@dataclass
class LoadReport:
    """What a batch did."""

    source: str
    batch_id: str | None
    files: list[FileReport] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return self.batch_id is not None

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


class BatchInput(Protocol):
    """One pivot table's rows from one source (a pivot file, or FHIR resources staged by views).

    The batch stages it as text, validates it, and asks it how to place each rejected line
    (file and line of the original input) and what to record in the manifest.
    """

    spec: PivotTable
    label: str  # shown in progress messages

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
        return [ManifestRow(self.spec.name, info.path.name, info.sha256, info.size_bytes, info.encoding,
                            info.delimiter, result.rows_read, result.rows_valid, result.lines_rejected)]  # fmt: skip


def discover(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Pivot files of a folder by table name (any case), and the names of the other files."""
    if not folder.is_dir():
        raise PivotFileError(f"{folder}: not a folder of pivot files")
    known = {t.name for t in TABLES}
    found: dict[str, Path] = {}
    ignored: list[str] = []
    for path in sorted(folder.iterdir()):
        stem = path.name.lower().split(".")[0]
        if path.is_file() and path.suffix.lower() in SUFFIXES and stem in known:
            if stem in found:
                raise PivotFileError(f"{path.name}: a second file for the {stem} table ({found[stem].name})")
            found[stem] = path
        elif path.is_file() and path.name != "defects.json":
            ignored.append(path.name)
    return found, ignored


def load_pivot(
    folder: Path,
    warehouse: Warehouse,
    vault: IdentityVault,
    pseudonymiser: Pseudonymiser,
    source: str = "default",
    as_of: date | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Load a folder of pivot files as one atomic, idempotent batch."""
    files, ignored = discover(folder)
    report = LoadReport(source, None, ignored_files=ignored)
    pending = [PivotFile(table, info) for table, info in pending_files(warehouse, source, files, TABLES, report)]
    return run_batch(
        folder, report, pending,
        lambda: Batch(warehouse, vault, pseudonymiser, source, as_of or date.today(), progress),
        lambda batch: batch.run(pending, report),
    )  # fmt: skip


class StagingBatch:
    """What every loader's batch holds while it runs: its id, its staging objects in the warehouse's DuckDB
    connection (freed at the end, committed or not), the rows staged for the commit."""

    prefix = "stg_"

    def __init__(self, warehouse: Warehouse, source: str, progress: Progress | None) -> None:
        self.warehouse = warehouse
        self.con: duckdb.DuckDBPyConnection = warehouse.duckdb
        self.source = source
        self.progress = progress or (lambda step, n: None)
        self.batch_id = new_batch_id()
        self.staging: list[str] = []
        self.staged: list[StagedRows] = []

    def _temp(self, name: str) -> str:
        table = f"{self.prefix}{name}"
        self.staging.append(table)
        return table

    def drop_staging(self) -> None:
        """Free every staging object; views first, since they depend on the tables."""
        views = {name for (name,) in self.con.execute("SELECT view_name FROM duckdb_views() WHERE temporary")
                 .fetchall()}  # fmt: skip
        for name in sorted(self.staging, key=lambda n: n not in views):
            try:
                self.con.unregister(name)
                self.con.execute(f'DROP {"VIEW" if name in views else "TABLE"} IF EXISTS "{name}"')
            except duckdb.Error:  # already gone, or a registered Arrow table: nothing left to free
                continue


S = TypeVar("S", bound=StagingBatch)


def run_batch(
    path: Path, report: LoadReport, pending: Sequence[object], start: Callable[[], S], run: Callable[[S], None]
) -> LoadReport:
    """``run`` the batch ``start`` makes, unless nothing is pending; its staging is freed whatever happens."""
    if not pending:
        log.info("nothing to load from %s: every file was already loaded", path)
        return report
    batch = start()
    try:
        run(batch)
    finally:
        batch.drop_staging()
    return report


def pending_files(
    warehouse: Warehouse, source: str, files: dict[str, Path], tables: Iterable[T], report: LoadReport
) -> list[tuple[T, FileInfo]]:
    """The found files of ``tables`` (in that order) not yet loaded from ``source``; the others are reported
    as skipped. ``tables`` are table specs (pivot or OMOP)."""
    done = loaded_files(warehouse, source)
    pending = []
    for table in tables:
        if table.name not in files:
            continue
        info = inspect_file(files[table.name])
        if (table.name, info.sha256) in done:
            report.files.append(FileReport(table.name, info.path.name, info.sha256, skipped=True))
        else:
            pending.append((table, info))
    return pending


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
        super().__init__(warehouse, source, progress)
        self.vault = vault
        self.pseudonymiser = pseudonymiser
        self.as_of = as_of

    def run(
        self,
        pending: list[BatchInput],
        report: LoadReport,
        rejected: list[str] | None = None,
        manifest: list[ManifestRow] | None = None,
    ) -> None:
        """Validate, map and commit every input. ``rejected`` (quarantine ``SELECT``s, one ``?`` for the
        source) and ``manifest`` hold what a format rejected before any pivot table (e.g. invalid JSON)."""
        self.con.execute(pivot_mapping.id_macros())
        refs = self._references()
        books = Bookkeeping(self.con, self.batch_id, self.source, self._temp)
        books.quarantine(list(rejected or []))
        books.files += manifest or []
        report.files += [FileReport.of(row) for row in books.files]
        valid_tables: dict[str, list[str]] = {}
        for item in pending:
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
            rows = item.manifest_rows(self.con, result)
            books.files += rows
            report.files += [FileReport.of(row) for row in rows]
            self.con.unregister(raw.table)  # the file's rows are no longer needed: free them
            self.progress(f"validé {item.label}", result.rows_read)
        self._stage_concepts(valid_tables)
        self.progress("écriture de l'entrepôt", 0)
        commit_batch(self.warehouse, self.staged, books.staged())
        report.batch_id = self.batch_id
        log.info(
            "batch %s committed: %d rows read, %d loaded, %d quarantined",
            self.batch_id, report.rows_read, report.rows_loaded, report.rows_quarantined,
        )  # fmt: skip

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
        self.vault.store(self.source, identities.drop_columns([LINE]))
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
                    listed.append((row["code"], entry["code"], entry.get("label_fr") or entry["code"],
                                   row["domain_id"], row["concept_class_id"]))  # fmt: skip
        self.con.register(
            "listed_codes",
            pa.table({k: pa.array([r[i] for r in listed], pa.string()) for i, k in
                      enumerate(("vocabulary_id", "concept_code", "concept_name", "domain_id", "class_id"))}),
        )  # fmt: skip
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
            pa.table({
                "vocabulary_id": list(vocabularies), "vocabulary_name": [v["name"] for v in vocabularies.values()],
                "vocabulary_reference": [v["reference"] for v in vocabularies.values()],
            }),
        )  # fmt: skip
        self.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{vocabulary_rows}" AS SELECT vocabulary_id, vocabulary_name, '
            "vocabulary_reference, NULL::VARCHAR AS vocabulary_version, 0::BIGINT AS vocabulary_concept_id "
            "FROM vocabulary_list"
        )
        self.con.unregister("vocabulary_list")
        self.staged.append(StagedRows(schema.VOCABULARY, vocabulary_rows))


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"

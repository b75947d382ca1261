"""Writing the warehouse as an OMOP CDM 5.4 dataset for research: official columns, fresh ids, no objector.

Every export draws a fresh random key, used for three things and then forgotten (never written):

- **ids re-keyed per export**: each person gets a rank in a keyed random order (1..N), and every other
  row id (visits, conditions, providers...) a rank in another; two exports of the same warehouse
  therefore number the same person differently and cannot be joined. One function maps every id of
  one export, so references stay right across tables (``visit_occurrence_id`` of a condition,
  ``cost_event_id``, ``measurement_event_id`` whatever table they point to); a reference to a row the
  export leaves out becomes NULL (and a row whose required reference is gone is left out);
- **optional date shift**: each person's dates all move by the same number of days, drawn from the
  key in ``[-max, -1] ∪ [1, max]`` (``date_shift_max_days`` in ``parameters.yaml``);
- local concepts (ids ≥ 2^31, see ``docs/architecture.md``) are renumbered from 2,000,000,000 in
  concept order, so that every column has its official 32-bit integer type.

Reads are Ibis expressions on the warehouse (any engine); the rows of the export are then
re-keyed and written by a private in-memory DuckDB, which also writes CSV and Parquet. The warehouse is
read through whatever :class:`Readable` the caller hands over: a
:class:`~proxisante.network.scope.ScopedTables` exports one structure, a CPTS or the network, and holds
no row of another structure (``network.scope``); the manifest then names the scope.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import ibis
import pyarrow as pa
from ibis.expr.types import Table

from proxisante import vocab
from proxisante.definitions import ParameterFile
from proxisante.identity.keys import make_private
from proxisante.network.scope import Scope
from proxisante.omop.cdm import VOCABULARY_TABLES, CdmTable, cdm_tables
from proxisante.spreadsheet import sql_neutralised
from proxisante.warehouse import schema

FORMATS = ("csv", "parquet")
INT32_MAX = 2**31 - 1
CDM_VERSION_CONCEPT_ID = 756265  # "OMOP CDM Version 5.4" in the CDM vocabulary

# The date that places a row in a period (start of the fact); spans use both ends.
EVENT_DATES: dict[str, str] = {
    "visit_occurrence": "visit_start_date",
    "visit_detail": "visit_detail_start_date",
    "condition_occurrence": "condition_start_date",
    "drug_exposure": "drug_exposure_start_date",
    "procedure_occurrence": "procedure_date",
    "device_exposure": "device_exposure_start_date",
    "measurement": "measurement_date",
    "observation": "observation_date",
    "death": "death_date",
    "condition_era": "condition_era_start_date",
    "drug_era": "drug_era_start_date",
    "dose_era": "dose_era_start_date",
}
SPANS: dict[str, tuple[str, str]] = {
    "observation_period": ("observation_period_start_date", "observation_period_end_date"),
    "payer_plan_period": ("payer_plan_period_start_date", "payer_plan_period_end_date"),
}
# Text columns that may hold a date, which a date shift cannot move: emptied when dates are shifted.
DATE_TEXT = {"measurement": ("measurement_time",)}


# The research parameters (``research/parameters.yaml``): date shift, k-anonymity, generalisation ladder.
PARAMETERS = ParameterFile(__package__)


class Readable(Protocol):
    """What an export reads: tables by name and their rows as Arrow (a ``Warehouse`` or a ``ScopedTables``)."""

    def table(self, name: str) -> Table: ...

    def to_pyarrow(self, expr: Table) -> pa.Table: ...


class ExportError(ValueError):
    """An export that cannot be made as asked (unknown table, bad period, existing files...)."""


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how."""

    file_format: str = "csv"
    date_shift: bool = False
    tables: tuple[str, ...] | None = None  # CDM tables; None: every CDM table the warehouse holds
    period: tuple[date, date] | None = None  # facts starting within [start, end]
    vocabulary: bool = True  # concept, vocabulary... (no personal data) along with the data

    def described(self) -> dict[str, Any]:
        """The options as written to the manifest (JSON values)."""
        return {
            "format": self.file_format,
            "date_shift": self.date_shift,
            "date_shift_max_days": PARAMETERS.value("date_shift_max_days") if self.date_shift else None,
            "tables": list(self.tables) if self.tables else None,
            "period": [self.period[0].isoformat(), self.period[1].isoformat()] if self.period else None,
            "vocabulary": self.vocabulary,
        }


@dataclass
class ExportResult:
    out: Path
    rows: dict[str, int]
    manifest: dict[str, Any]
    manifest_sha256: str
    excluded_persons: int
    dropped: dict[str, int] = field(default_factory=dict)


def scope_entry(scope: Scope) -> dict[str, Any]:
    """The scope an export was read in, as its manifest and the research log write it (JSON values):
    a recipient knows which structures the rows come from and in which view."""
    return {
        "name": scope.name,
        "structures": sorted(scope.structures) if scope.structures is not None else None,
        "view": "attributed" if scope.attributed_on is not None else "seen_here",
        "attributed_on": scope.attributed_on.isoformat() if scope.attributed_on is not None else None,
    }


def warehouse_cdm_tables() -> list[CdmTable]:
    """The CDM tables the warehouse holds, in the DDL's order."""
    return [t for t in cdm_tables().values() if t.name in schema.TABLES_BY_NAME]


def selected_tables(options: ExportOptions) -> list[CdmTable]:
    held = warehouse_cdm_tables()
    names = {t.name for t in held}
    if options.tables is not None:
        unknown = sorted(set(options.tables) - names)
        if unknown:
            raise ExportError(f"table(s) inconnue(s) ou absente(s) de l'entrepôt : {', '.join(unknown)}")
    wanted = set(options.tables) | {"person"} if options.tables is not None else names
    if options.vocabulary:
        wanted |= VOCABULARY_TABLES & names
    else:
        wanted -= VOCABULARY_TABLES - set(options.tables or ())
    return [t for t in held if t.name in wanted]


class OmopExport:
    """One export while it is built: the selected rows (warehouse ids) in a private DuckDB, then written."""

    def __init__(
        self,
        warehouse: Readable,
        options: ExportOptions,
        excluded: frozenset[int] = frozenset(),
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if options.file_format not in FORMATS:
            raise ExportError(f"format inconnu : {options.file_format} (csv ou parquet)")
        if options.period and options.period[0] > options.period[1]:
            raise ExportError("période vide : la date de début suit la date de fin")
        self.warehouse = warehouse
        self.options = options
        self.excluded = excluded
        self.tables = selected_tables(options)
        self.con = duckdb.connect()
        self.key = secrets.token_hex(32)  # never written anywhere
        self.dropped: dict[str, int] = {}
        self.progress = progress or (lambda _: None)  # called with each table's name as it is read, then written

    def close(self) -> None:
        """Free the private DuckDB holding the export's rows."""
        self.con.close()

    # -- reading ---------------------------------------------------------------------------------
    def read(self) -> None:
        """Register the selected rows of every table as ``src_<table>`` (objectors and other periods out)."""
        persons = self._persons()
        for table in self.tables:
            expr = self.warehouse.table(table.name)
            if table.has_person:
                expr = expr.filter(expr.person_id.isin(persons))
            expr = self._in_period(table.name, expr)
            self.con.register(f"arrow_{table.name}", self.warehouse.to_pyarrow(expr))
            self.con.execute(f'CREATE TABLE "src_{table.name}" AS SELECT * FROM "arrow_{table.name}"')
            self.con.unregister(f"arrow_{table.name}")
            self.progress(table.name)

    def _persons(self) -> Table:
        person = self.warehouse.table("person")
        kept = person
        if self.excluded:
            kept = kept.filter(~kept.person_id.isin(sorted(self.excluded)))
        if self.options.period:
            start, end = self.options.period
            op = self.warehouse.table("observation_period")
            seen = op.filter((op.observation_period_start_date <= end) & (op.observation_period_end_date >= start))
            kept = kept.filter(kept.person_id.isin(seen.person_id))
        return kept.person_id

    def _in_period(self, name: str, expr: Table) -> Table:
        if not self.options.period:
            return expr
        start, end = self.options.period
        if name in EVENT_DATES:
            column = expr[EVENT_DATES[name]]
            return expr.filter((column >= start) & (column <= end))
        if name in SPANS:
            first, last = (expr[c] for c in SPANS[name])
            expr = expr.filter((first <= end) & (last >= start))
            if name == "observation_period":  # clipped to the period: nothing is known outside it
                clipped = {
                    first.get_name(): ibis.greatest(first, ibis.literal(start)),
                    last.get_name(): ibis.least(last, ibis.literal(end)),
                }
                expr = expr.mutate(**clipped)
            return expr
        return expr

    def drop_persons(self, person_ids: list[int]) -> None:
        """Leave some persons out of every table (suppressed by disclosure control)."""
        if not person_ids:
            return
        self.con.register("dropped_persons", pa.table({"person_id": pa.array(person_ids, pa.int64())}))
        for table in self.tables:
            if table.has_person:
                self.con.execute(
                    f'DELETE FROM "src_{table.name}" WHERE person_id IN (SELECT person_id FROM dropped_persons)'
                )
        self.con.unregister("dropped_persons")

    # -- re-keying ---------------------------------------------------------------------------------
    def _build_maps(self) -> None:
        """Keyed random ranks for persons and for every row id; local concepts renumbered."""
        self.con.execute(
            "CREATE OR REPLACE TABLE person_map AS SELECT person_id AS old, "
            "row_number() OVER (ORDER BY sha256(? || ':person:' || person_id::VARCHAR))::INTEGER AS new, "
            "(md5_number(? || ':shift:' || person_id::VARCHAR) % ?)::INTEGER AS draw "
            'FROM (SELECT DISTINCT person_id FROM "src_person")',
            [self.key, self.key, 2 * self._max_shift()],
        )
        keys = [
            f'SELECT "{schema.TABLES_BY_NAME[t.name].key}" AS old FROM "src_{t.name}"'
            for t in self.tables
            if schema.TABLES_BY_NAME[t.name].key in t.id_columns()
        ]
        self.con.execute(
            "CREATE OR REPLACE TABLE id_map AS SELECT old, row_number() OVER (ORDER BY sha256(? || ':id:' || "
            f"old::VARCHAR))::INTEGER AS new FROM ({' UNION '.join(keys) or 'SELECT NULL::BIGINT AS old'}) "
            "WHERE old IS NOT NULL",
            [self.key],
        )
        # Local concepts are numbered from the warehouse's concept table, exported or not (vocabulary: false),
        # so that a concept column never holds an id beyond 32 bits and the numbering does not depend on it.
        concept = self.warehouse.table("concept")
        local = concept.filter(concept.concept_id > INT32_MAX).select(old=concept.concept_id)
        self.con.register("local_concepts", self.warehouse.to_pyarrow(local))
        self.con.execute(
            f"CREATE OR REPLACE TABLE concept_map AS SELECT old::BIGINT AS old, "
            f"({vocab.omop_concept('local_concept_base')} + row_number() OVER (ORDER BY old) - 1)::INTEGER AS new "
            "FROM local_concepts"
        )
        self.con.unregister("local_concepts")

    def _max_shift(self) -> int:
        return int(PARAMETERS.value("date_shift_max_days")) if self.options.date_shift else 1

    def _has(self, name: str) -> bool:
        return any(t.name == name for t in self.tables)

    def _shift(self) -> str:
        """Days added to a person's dates: ``draw`` in [0, 2·max) mapped to [-max, -1] ∪ [1, max]."""
        m = self._max_shift()
        return f"(CASE WHEN pm.draw < {m} THEN pm.draw - {m} ELSE pm.draw - {m} + 1 END)"

    def _select(self, table: CdmTable) -> str:
        """The table as the CDM declares it: re-keyed ids, shifted dates, official types."""
        joins: list[str] = []
        exprs: list[str] = []
        shifted = self.options.date_shift and table.has_person
        ids = set(table.id_columns())
        required_refs: list[str] = []
        for n, column in enumerate(table.columns):
            source = f's."{column.name}"'
            if column.is_person:
                expr = "pm.new"
            elif column.name in ids:
                joins.append(f"LEFT JOIN id_map m{n} ON m{n}.old = {source}")
                expr = f"m{n}.new"
                if column.required:
                    required_refs.append(expr)
            elif column.is_concept:  # a local id unknown to the concept table becomes 0 (no matching concept)
                joins.append(f"LEFT JOIN concept_map c{n} ON c{n}.old = {source}")
                expr = f"CASE WHEN {source} > {INT32_MAX} THEN coalesce(c{n}.new, 0) ELSE {source} END"
            elif shifted and column.kind == "date":
                expr = f"{source} + {self._shift()}"
            elif shifted and column.kind == "timestamp":
                expr = f"{source} + to_days({self._shift()})"
            elif shifted and column.name in DATE_TEXT.get(table.name, ()):
                expr = "NULL"
            else:
                expr = source
            exprs.append(f'CAST({expr} AS {_duckdb_type(column.kind)}) AS "{column.name}"')
        if table.name == "person" and shifted:
            exprs = self._shifted_birth(exprs)
        person_join = "JOIN person_map pm ON pm.old = s.person_id" if table.has_person else ""
        where = " AND ".join(f"{r} IS NOT NULL" for r in required_refs) or "TRUE"
        order = f'"{table.columns[0].name}"'
        return (
            f'SELECT {", ".join(exprs)} FROM "src_{table.name}" s {person_join} {" ".join(joins)} '
            f"WHERE {where} ORDER BY {order}"
        )

    def _shifted_birth(self, exprs: list[str]) -> list[str]:
        """Year, month and day of birth follow the shifted birth date when the whole date is known."""
        birth = (
            f"CASE WHEN s.month_of_birth IS NOT NULL AND s.day_of_birth IS NOT NULL THEN "
            f"make_date(s.year_of_birth, s.month_of_birth, s.day_of_birth) + {self._shift()} END"
        )
        parts = {"year_of_birth": "year", "month_of_birth": "month", "day_of_birth": "day"}
        out = []
        for expr in exprs:
            name = expr.rsplit(" AS ", 1)[1].strip('"')
            if name in parts:
                expr = f'CAST(coalesce({parts[name]}({birth}), s."{name}") AS INTEGER) AS "{name}"'
            out.append(expr)
        return out

    # -- writing -----------------------------------------------------------------------------------
    def write(self, out: Path, extra: dict[str, Any] | None = None) -> ExportResult:
        """Write every table, the cdm_source row, the data dictionary and the manifest to ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            raise ExportError(f"{out} : le dossier de sortie n'est pas vide")
        self._build_maps()
        rows: dict[str, int] = {}
        files: dict[str, dict[str, Any]] = {}
        for table in self.tables:
            path = out / f"{table.name}.{self.options.file_format}"
            before = self._count(f'SELECT count(*) FROM "src_{table.name}"')
            rows[table.name] = self._copy(self._select(table), path)
            if before - rows[table.name]:  # rows whose required reference is outside the export
                self.dropped[table.name] = before - rows[table.name]
            files[table.name] = {"file": path.name, "rows": rows[table.name], "sha256": _sha256(path)}
            self.progress(table.name)
        source = out / f"cdm_source.{self.options.file_format}"
        rows["cdm_source"] = self._copy(self._cdm_source_sql(), source)
        files["cdm_source"] = {"file": source.name, "rows": 1, "sha256": _sha256(source)}
        _write_dictionary(out, [*self.tables, cdm_tables()["cdm_source"]])
        manifest = {
            "format": "OMOP CDM",
            "cdm_version": "5.4",
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "software": f"proxisante {_version()}",
            "options": self.options.described(),
            "ids": "re-keyed for this export only (a fresh random key, not kept)",
            "excluded_persons_objection": len(self.excluded),
            "rows_dropped_references_outside_export": self.dropped,
            "tables": files,
            "dictionary": ["data_dictionary.csv", "DATA_DICTIONARY.md"],
            **(extra or {}),
        }
        text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
        (out / "manifest.json").write_text(text + "\n", encoding="utf-8")
        digest = hashlib.sha256((text + "\n").encode("utf-8")).hexdigest()
        return ExportResult(out, rows, manifest, digest, len(self.excluded), dict(self.dropped))

    def _copy(self, sql: str, path: Path) -> int:
        """Write the rows of ``sql`` to ``path``; in a CSV, text cells cannot start a formula (:mod:`.spreadsheet`)."""
        options = "FORMAT parquet" if self.options.file_format == "parquet" else "FORMAT csv, HEADER true"
        if self.options.file_format == "csv":
            sql = self._formula_safe(sql)
        self.con.execute(f"COPY ({sql}) TO '{_path_literal(path)}' ({options})")
        reader = "read_parquet" if self.options.file_format == "parquet" else "read_csv"
        extra = "" if self.options.file_format == "parquet" else ", all_varchar=true, header=true"
        return self._count(f"SELECT count(*) FROM {reader}('{_path_literal(path)}'{extra})")

    def _count(self, sql: str) -> int:
        """The one value of a ``SELECT count(*)`` (DuckDB always returns its row)."""
        row = self.con.execute(sql).fetchone()
        assert row is not None
        return int(row[0])

    def _formula_safe(self, sql: str) -> str:
        """``sql`` with every VARCHAR column neutralised for spreadsheets, the other columns as they are."""
        columns = self.con.execute(f"DESCRIBE ({sql})").fetchall()
        exprs = [
            f"{sql_neutralised(_quoted(name))} AS {_quoted(name)}" if kind == "VARCHAR" else _quoted(name)
            for name, kind, *_ in columns
        ]
        return f"SELECT {', '.join(exprs)} FROM ({sql})"

    def _cdm_source_sql(self) -> str:
        today = date.today().isoformat()
        version = "proxisante"
        if self._has("vocabulary"):
            found = self.con.execute(
                "SELECT vocabulary_version FROM src_vocabulary WHERE vocabulary_id = 'None'"
            ).fetchone()
            version = (found[0] if found and found[0] else version)[:20]
        values = {
            "cdm_source_name": "proxisante export",
            "cdm_source_abbreviation": "proxisante",
            "cdm_holder": "structure de soins (export proxisante)",
            "source_description": "Pseudonymised OMOP CDM 5.4 export of a proxisante warehouse (ids re-keyed "
            "for this export)",
            "source_documentation_reference": "docs/omop.md",
            "cdm_etl_reference": "proxisante.research.export",
            "source_release_date": today,
            "cdm_release_date": today,
            "cdm_version": "5.4",
            "cdm_version_concept_id": str(CDM_VERSION_CONCEPT_ID),
            "vocabulary_version": version,
        }
        columns = cdm_tables()["cdm_source"].columns
        exprs = [f"CAST({_sql_text(values[c.name])} AS {_duckdb_type(c.kind)}) AS {c.name}" for c in columns]
        return f"SELECT {', '.join(exprs)}"


def check_destination(out: Path) -> None:
    """Refuse, before any work, a destination that is a file or a folder that is not empty."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ExportError(f"{out} : existe et n'est pas un dossier")
    if out.is_dir() and any(out.iterdir()):
        raise ExportError(f"{out} : le dossier de sortie n'est pas vide")


@contextmanager
def published(out: Path) -> Iterator[Path]:
    """A private temporary folder beside ``out`` to write into; moved to ``out`` whole (one rename) when the
    block ends without error, removed with everything in it otherwise: ``out`` is complete or absent."""
    check_destination(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partiel", dir=out.parent))  # 0700
    try:
        yield staging
        make_private(staging)  # health data: 0600 files in a 0700 folder, whatever the umask
        check_destination(out)
        os.replace(staging, out)  # POSIX rename: atomic, and replaces an empty folder
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def export_omop(
    warehouse: Readable,
    out: Path,
    options: ExportOptions,
    excluded: frozenset[int] = frozenset(),
    extra: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export the warehouse (objecting persons ``excluded``) as an OMOP CDM 5.4 dataset in ``out``: written
    beside it and moved in place whole (:func:`published`). ``extra`` entries go to the manifest (the scope);
    ``progress(table)`` is called twice per table of :func:`selected_tables`, once read and once written."""
    export = OmopExport(warehouse, options, excluded, progress)
    try:
        export.read()
        with published(out) as staging:
            result = export.write(staging, extra)
        result.out = out
        return result
    finally:
        export.close()


def _duckdb_type(kind: str) -> str:
    return {"integer": "INTEGER", "numeric": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP", "text": "VARCHAR"}[
        kind
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _path_literal(path: Path) -> str:
    return str(path).replace("'", "''")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("proxisante")
    except PackageNotFoundError:
        return "dev"


def _write_dictionary(out: Path, tables: list[CdmTable]) -> None:
    """``data_dictionary.csv`` and ``DATA_DICTIONARY.md``: every table and column with type and notes."""
    lines = ["table,column,type,required,note"]
    md = [
        "# Data dictionary",
        "",
        "OMOP CDM 5.4 (official column names and types). Notes say what this export",
        "changed: ids re-keyed for this export, dates shifted per person when asked.",
        "",
    ]
    for table in tables:
        description = (
            schema.TABLES_BY_NAME[table.name].description
            if table.name in schema.TABLES_BY_NAME
            else ("One row describing this export.")
        )
        md += [f"## {table.name}", "", description, "", "| column | type | required | note |", "|---|---|---|---|"]
        ids = set(table.id_columns())
        for column in table.columns:
            note = _column_note(table, column.name, column.kind, column.is_person, column.name in ids)
            lines.append(f"{table.name},{column.name},{column.sql_type},{'yes' if column.required else 'no'},{note}")
            md.append(f"| `{column.name}` | {column.sql_type} | {'yes' if column.required else 'no'} | {note} |")
        md.append("")
    (out / "data_dictionary.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "DATA_DICTIONARY.md").write_text("\n".join(md), encoding="utf-8")


def _column_note(table: CdmTable, name: str, kind: str, is_person: bool, is_id: bool) -> str:
    if is_person:
        return "person re-keyed for this export (1..N in a random order)"
    if is_id:
        return "id re-keyed for this export; empty when it points outside the export"
    if kind in ("date", "timestamp") and table.has_person:
        return "shifted by the person's offset when the export shifts dates"
    if name.endswith("concept_id"):
        return "OMOP concept; local concepts numbered from 2000000000"
    return ""

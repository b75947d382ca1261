"""``proxisante ingest PATH --format fhir``: FHIR resources -> pivot tables -> the pivot batch flow.

The mapping is declarative: the ViewDefinitions of ``views/`` flatten each resource type (one main
view, one row per resource; one codes view, one row per coding), and ``mapping.yaml`` says which
code system is which vocabulary and which coded element fills which pivot column. What remains
here is the glue the views cannot express: choosing the coding of an accepted vocabulary, resolving
a Practitioner reference to its RPPS, and putting values in the pivot's text form. The pivot
tables then go through the *same* validation, pseudonymisation, quarantine and atomic load as a
pivot export (:class:`proxisante.ingest.pivot.load.Batch`).

A resource that cannot become a pivot row is quarantined with its file, line (the entry number in a
Bundle) and reason: invalid JSON, no resourceType, unsupported type, unknown code system, missing
subject, unresolved practitioner; the rest of the file loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from proxisante.ingest.batch import FileReport, LoadReport, Progress, run_batch
from proxisante.ingest.fhir.reading import (
    FhirFile,
    Staged,
    checksum,
    discover,
    element_column,
    kind_of,
    stage_files,
)
from proxisante.ingest.fhir.views import compile_view, read_elements
from proxisante.ingest.files import LINE, FileInfo, RawFile
from proxisante.ingest.pivot.format import TABLES_BY_NAME, PivotTable
from proxisante.ingest.pivot.load import Batch
from proxisante.ingest.pivot.validation import DUPLICATE_LINE, Validated
from proxisante.installation import Installation
from proxisante.messages import FHIR_REASONS
from proxisante.warehouse.load import ManifestRow, loaded_files

# The RPPS of an event's practitioner: given in the reference, or found from the reference's id.
_PRACTITIONER = "coalesce(m.practitioner_rpps, pr.rpps, kp.rpps)"
# Columns a view may give under another name when the first is empty (FHIR has several dates).
FALLBACKS = {"date": ("onset", "asserted", "issued")}


@cache
def mapping() -> dict[str, Any]:
    """``mapping.yaml``: code systems, identifier systems, gender codes, views."""
    return yaml.safe_load((resources.files(__package__) / "mapping.yaml").read_text(encoding="utf-8"))


def view_definition(name: str) -> dict[str, Any]:
    """A ViewDefinition of the package; its constants named like an identifier or extension of
    ``mapping.yaml`` take the YAML value (one source of truth for systems)."""
    view = json.loads((resources.files(__package__) / "views" / name).read_text(encoding="utf-8"))
    systems = {**{k: v["system"] for k, v in mapping()["identifiers"].items()}, **mapping()["extensions"]}
    aliases = {
        "insNir": "ins_nir",
        "insNirTest": "ins_nir_test",
        "insNirDemo": "ins_nir_demo",
        "insee": "insee_code",
        "site": "practitioner_site",
        "period": "practitioner_period",
        "ald": "ald_condition",
    }
    for constant in view.get("constant", []):
        key = aliases.get(constant["name"], constant["name"])
        if key in systems:
            constant["valueString"] = systems[key]
    return view


def load_fhir(
    path: Path,
    installation: Installation,
    source: str = "default",
    progress: Progress | None = None,
    *,
    as_of: date | None = None,
    structure: str | None = None,
) -> LoadReport:
    """Load FHIR NDJSON files and Bundles (a file or a folder) as one atomic, idempotent batch (the signature
    of :class:`proxisante.ingest.Loader`); ``as_of`` is the day the checks take as today."""
    report = LoadReport(source, None)
    done = {sha256 for _, sha256 in loaded_files(installation.warehouse, source)}
    pending = []
    for file in discover(path):
        sha256, size, lines = checksum(file)
        if sha256 in done:
            report.files.append(FileReport("fhir", file.name, sha256, skipped=True))
        else:
            pending.append(FhirFile(file, sha256, size, kind_of(file), lines=lines))

    def run(batch: Batch) -> None:
        batch.progress("lecture des fichiers FHIR", 0)
        staged = stage_files(batch.con, pending, _elements())
        batch.staging += [staged.rejects, staged.files_table, *staged.tables.values()]
        batch.progress("vues SQL-on-FHIR", 0)
        inputs = _pivot_inputs(batch, staged)
        rejected, rows = _read_rejects(batch, staged, inputs)
        batch.run(inputs, report, rejected=rejected, manifest=rows)

    def start() -> Batch:
        return Batch(
            installation.warehouse,
            installation.vault,
            installation.pseudonymiser,
            source,
            as_of or date.today(),
            progress,
        )

    return run_batch(path, report, pending, start, run, structure=structure)


@cache
def _elements() -> dict[str, list[str] | None]:
    """Per resource type, the children of the resource its views read (None: the whole resource)."""
    out: dict[str, list[str] | None] = {}
    for entry in mapping()["views"]:
        for name in (entry["main"], entry.get("codes")):
            if not name:
                continue
            view = view_definition(name)
            read, known = read_elements(view), out.get(view["resource"], [])
            out[view["resource"]] = None if read is None or known is None else list(dict.fromkeys(known + read))
    return out


def _compile(view: dict[str, Any], source: str) -> str:
    """A view over a staged table of its type, reading the children extracted while staging."""
    read = _elements()[view["resource"]]
    return compile_view(view, source, {k: element_column(k) for k in read or ()})


@dataclass
class FhirTable:
    """One pivot table's rows made from one resource type, as an input of the pivot batch."""

    spec: PivotTable
    resource_type: str
    table: str  # __line (= fhir_row) and the pivot columns as text
    rejects: str  # (line, field, reason, value): set aside before validation
    staged: Staged

    @property
    def label(self) -> str:
        return f"{self.spec.name} ({self.resource_type})"

    def stage(self, con: duckdb.DuckDBPyConnection, table: str) -> RawFile:
        con.execute(f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT * FROM "{self.table}"')
        info = FileInfo(Path(f"{self.resource_type}.ndjson"), "", 0, "utf-8", "")
        return RawFile(info, table, self.spec.column_names, rejects=self.rejects)

    def quarantine_sql(self, batch_id: str, errors: str) -> str:
        files = self.staged.files_table
        # A duplicate names its first occurrence by batch row number: turn it into file:line too.
        first = (
            f"(SELECT g.file_name || ':' || (n.first_row - g.base + 1) FROM \"{files}\" g "
            "WHERE n.first_row >= g.base AND n.first_row < g.base + g.count)"
        )
        return (
            f"SELECT '{batch_id}' AS batch_id, ? AS source, '{self.spec.name}' AS pivot_table, f.file_name, "
            "e.line - f.base + 1 AS line, e.field, "
            f"CASE WHEN n.first_row IS NULL THEN e.reason ELSE regexp_replace(e.reason, 'ligne [0-9]+', {first}) "
            "END AS reason, e.value, e.record "
            f'FROM "{errors}" e JOIN "{files}" f ON e.line >= f.base AND e.line < f.base + f.count '
            f"CROSS JOIN LATERAL (SELECT try_cast(regexp_extract(e.reason, '{DUPLICATE_LINE}', 1) "
            "AS BIGINT) AS first_row) n"
        )

    def manifest_rows(self, con: duckdb.DuckDBPyConnection, result: Validated) -> list[ManifestRow]:
        files = self.staged.files_table
        rows = con.execute(
            f"""
            WITH lines AS (SELECT {LINE} AS line FROM "{self.table}"
                           UNION ALL SELECT DISTINCT line FROM "{self.rejects}"),
                 bad AS (SELECT DISTINCT line FROM "{result.errors}")
            SELECT f.file_name, count(*) AS n_read, count(b.line) AS n_bad
            FROM lines l JOIN "{files}" f ON l.line >= f.base AND l.line < f.base + f.count
            LEFT JOIN bad b ON b.line = l.line
            GROUP BY f.file_name ORDER BY f.file_name
            """
        ).fetchall()
        by_name = {f.path.name: f for f in self.staged.files}
        return [_manifest(self.spec.name, by_name[name], n_read, n_read - n_bad, n_bad) for name, n_read, n_bad in rows]


def _manifest(pivot_table: str, file: FhirFile, read: int, loaded: int, rejected: int) -> ManifestRow:
    return ManifestRow(
        pivot_table, file.path.name, file.sha256, file.size_bytes, f"fhir-{file.kind}", "", read, loaded, rejected
    )


def _read_rejects(batch: Batch, staged: Staged, inputs: list[FhirTable]) -> tuple[list[str], list[ManifestRow]]:
    """Quarantine and manifest rows of the resources no pivot table took (bad JSON, unsupported…),
    and a manifest row for every file that gave nothing at all (so that it is skipped next time)."""
    con, files = batch.con, staged.files_table
    sql = (
        f"SELECT '{batch.batch_id}' AS batch_id, ? AS source, 'fhir' AS pivot_table, f.file_name, "
        "r.fhir_row - f.base + 1 AS line, NULL AS field, r.reason, r.resource_type AS value, NULL AS record "
        f'FROM "{staged.rejects}" r JOIN "{files}" f ON r.fhir_row >= f.base AND r.fhir_row < f.base + f.count'
    )
    counts = dict(
        con.execute(
            f'SELECT f.file_name, count(r.fhir_row) FROM "{files}" f LEFT JOIN "{staged.rejects}" r '
            "ON r.fhir_row >= f.base AND r.fhir_row < f.base + f.count GROUP BY f.file_name"
        ).fetchall()
    )
    used = set()
    for item in inputs:
        used |= {
            name
            for (name,) in con.execute(
                f'SELECT DISTINCT f.file_name FROM (SELECT {LINE} AS line FROM "{item.table}" UNION ALL '
                f'SELECT line FROM "{item.rejects}") l '
                f'JOIN "{files}" f ON l.line >= f.base AND l.line < f.base + f.count'
            ).fetchall()
        }
    rows = [
        _manifest("fhir", file, counts.get(file.path.name, 0), 0, counts.get(file.path.name, 0))
        for file in staged.files
        if counts.get(file.path.name, 0) or file.path.name not in used
    ]
    return [sql], rows


def _pivot_inputs(batch: Batch, staged: Staged) -> list[FhirTable]:
    """Run every view whose resource type is present; build each pivot table's rows and rejects."""
    con = batch.con
    _register_systems(con)
    batch.staging.append("fhir_code_systems")
    inputs = []
    practitioners = "stg_fhir_practitioner_rpps"
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{practitioners}" (practitioner_key VARCHAR, rpps VARCHAR)')
    batch.staging.append(practitioners)
    for n, entry in enumerate(mapping()["views"]):
        main = view_definition(entry["main"])
        source = staged.tables.get(main["resource"])
        if source is None:
            continue
        spec = TABLES_BY_NAME[entry["pivot_table"]]
        names = {k: f"stg_fhir_{n}_{k}" for k in ("main", "codes", "picks", "rows", "rejects")}
        batch.staging += list(names.values())
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{names["main"]}" AS {_compile(main, source)}')
        _check_every_resource_mapped(con, staged, source, names["main"], main)
        columns = _columns(con, names["main"])
        if spec.name == "professionals":
            con.execute(
                f'INSERT INTO "{practitioners}" SELECT practitioner_key, {_rpps_expr(columns)} FROM "{names["main"]}" m'
            )
        picks = _picks(con, entry, source, names)
        _rows_and_rejects(con, spec, entry, names, columns, picks, practitioners)
        inputs.append(FhirTable(spec, main["resource"], names["rows"], names["rejects"], staged))
    return inputs


def _register_systems(con: duckdb.DuckDBPyConnection) -> None:
    entries = mapping()["code_systems"]
    con.register(
        "fhir_code_systems_arrow",
        pa.table(
            {
                "system": pa.array([e["system"] for e in entries], pa.string()),
                "vocabulary": pa.array([e.get("vocabulary") for e in entries], pa.string()),
                "pattern": pa.array([e.get("pattern") for e in entries], pa.string()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE fhir_code_systems AS SELECT * FROM fhir_code_systems_arrow")
    con.unregister("fhir_code_systems_arrow")


def _check_every_resource_mapped(
    con: duckdb.DuckDBPyConnection, staged: Staged, source: str, main: str, view: dict[str, Any]
) -> None:
    """A main view has one row per resource; a resource it left out is quarantined, not lost."""
    counts = con.execute(f'SELECT (SELECT count(*) FROM "{source}"), (SELECT count(*) FROM "{main}")').fetchone()
    if counts and counts[0] == counts[1]:
        return
    con.execute(
        f"""
        INSERT INTO "{staged.rejects}"
        SELECT fhir_row, '{view["resource"]}', {_quoted(FHIR_REASONS["left_out"].format(view=view["name"]))}
        FROM "{source}" WHERE fhir_row NOT IN (SELECT fhir_row FROM "{main}")
        """
    )


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f'DESCRIBE "{table}"').fetchall()]


def _rpps_expr(columns: list[str]) -> str:
    prefix = mapping()["identifiers"]["idnps"]["prefix"]
    idnps = f"CASE WHEN m.idnps LIKE '{prefix}%' THEN substr(m.idnps, {len(prefix) + 1}) END"
    return f"coalesce(CAST(m.rpps AS VARCHAR), {idnps})" if "idnps" in columns else "CAST(m.rpps AS VARCHAR)"


def _targets(entry: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Pivot column -> (coded element, accepted vocabularies)."""
    out: dict[str, tuple[str, list[str]]] = {}
    for element, vocabularies in (entry.get("elements") or {}).items():
        for vocabulary, column in vocabularies.items():
            out.setdefault(column, (element, []))[1].append(vocabulary)
    return out


def _picks(con: duckdb.DuckDBPyConnection, entry: dict[str, Any], source: str, names: dict[str, str]) -> str | None:
    """Per resource: the first code of an accepted vocabulary for each coded pivot column, and per
    coded element, why none was accepted (unknown system, or a known system not accepted here)."""
    if not entry.get("codes"):
        return None
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{names["codes"]}" AS {_compile(view_definition(entry["codes"]), source)}'
    )
    selects = []
    for column, (element, vocabularies) in _targets(entry).items():
        accepted = ", ".join(f"'{v}'" for v in vocabularies)
        # arg_min, not first(... ORDER BY): an ordered aggregate sorts every group.
        selects.append(
            f"arg_min(code, pos) FILTER (WHERE element = '{element}' AND vocabulary IN ({accepted})) AS \"{column}\""
        )
    for element, vocabularies in (entry.get("elements") or {}).items():
        accepted = ", ".join(f"'{v}'" for v in vocabularies)
        mine = f"element = '{element}'"
        # The lists of the message only matter when no coding is accepted: they gather refused codings.
        refused = f"{mine} AND (vocabulary IS NULL OR vocabulary NOT IN ({accepted}))"
        selects.append(
            f"CASE WHEN count(*) FILTER (WHERE {mine}) > 0 "
            f"AND count(*) FILTER (WHERE {mine} AND vocabulary IN ({accepted})) = 0 THEN "
            f"CASE WHEN bool_and(known) FILTER (WHERE {mine}) "
            "THEN 'système de codes non accepté ici (' || array_to_string(list_sort(list_distinct("
            f"list(coalesce(vocabulary, system)) FILTER (WHERE {refused}))), ', ') "
            f"|| ' ; attendu : {'/'.join(vocabularies)})' "
            f"ELSE 'système de codes inconnu' END END AS \"err__{element}\", "
            f'arg_min(system, known::INTEGER * 1000000 + pos) FILTER (WHERE {refused}) AS "val__{element}"'
        )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE "{names["picks"]}" AS
        WITH k AS (
            SELECT c.fhir_row, c.element, c.pos, c.system, CAST(c.code AS VARCHAR) AS code, s.vocabulary,
                   s.system IS NOT NULL AS known
            FROM "{names["codes"]}" c
            LEFT JOIN fhir_code_systems s ON s.system = c.system
                 AND (s.pattern IS NULL OR regexp_full_match(CAST(c.code AS VARCHAR), s.pattern))
            WHERE c.system IS NOT NULL OR c.code IS NOT NULL
        )
        SELECT fhir_row, {", ".join(selects)} FROM k GROUP BY fhir_row
        """
    )
    return names["picks"]


def _value(spec: PivotTable, column: str, columns: list[str], picks: str | None, entry: dict[str, Any]) -> str:
    """SQL of one pivot column, as text in the pivot's format."""
    targets = _targets(entry)
    if spec.name == "professionals" and column == "rpps":
        expr = _rpps_expr(columns)
    elif spec.name == "professionals" and column == "birth_year":
        expr = "left(CAST(m.birth_date AS VARCHAR), 4)"
    elif spec.name == "patients" and column == "sex":
        pairs = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping()["gender"].items())
        expr = f"CASE CAST(m.gender AS VARCHAR) {pairs} END"
    elif spec.name == "patients" and column == "ins":
        expr = "coalesce(m.ins, m.ins_test)"
    elif spec.name == "patients" and column == "given_names":
        expr = "coalesce(nullif(m.official_given, ''), nullif(m.usual_given, ''))"
    elif column == "rpps" and "practitioner_rpps" in columns:
        expr = _PRACTITIONER
    elif column in targets and picks:
        expr = f'p."{column}"'
    elif column in columns:
        fallbacks = [f"m.{c}" for c in FALLBACKS.get(column, ()) if c in columns]
        expr = f"coalesce(m.{column}, {', '.join(fallbacks)})" if fallbacks else f"m.{column}"
    else:
        return f'NULL::VARCHAR AS "{column}"'
    kind = spec.column(column).kind
    text = f"CAST({expr} AS VARCHAR)"
    if kind == "date":
        text = f"left({text}, 10)"
    elif kind == "integer":  # 30.0 from a JSON number is 30
        number = f"try_cast({expr} AS DOUBLE)"
        text = f"CASE WHEN {number} = floor({number}) THEN CAST(CAST({number} AS BIGINT) AS VARCHAR) ELSE {text} END"
    return f'{text} AS "{column}"'


def _rows_and_rejects(
    con: duckdb.DuckDBPyConnection,
    spec: PivotTable,
    entry: dict[str, Any],
    names: dict[str, str],
    columns: list[str],
    picks: str | None,
    practitioners: str,
) -> None:
    joins = f'LEFT JOIN "{picks}" p USING (fhir_row) ' if picks else ""
    if "practitioner_ref" in columns:
        # A reference to a Practitioner of this batch (by its id), else of an earlier batch whose id
        # is its RPPS (the warehouse keeps RPPS numbers, not the ids of earlier FHIR resources).
        joins += (
            f'LEFT JOIN "{practitioners}" pr ON pr.practitioner_key = m.practitioner_ref '
            "LEFT JOIN (SELECT DISTINCT provider_source_value AS rpps FROM provider) kp "
            "ON kp.rpps = m.practitioner_ref "
        )
    checks = []
    for element, vocabularies in (entry.get("elements") or {}).items():
        field = next(iter(vocabularies.values()))
        checks.append(
            f"SELECT m.fhir_row AS line, '{field}' AS field, p.\"err__{element}\" AS reason, "
            f'p."val__{element}" AS value FROM m {joins} '
            f'WHERE p."err__{element}" IS NOT NULL'
        )
    if "patient_id" in columns and spec.column("patient_id").required:
        checks.append(
            f"SELECT m.fhir_row, 'patient_id', 'sujet absent (aucune référence à un Patient)', NULL "
            f"FROM m {joins} WHERE m.patient_id IS NULL"
        )
    if "practitioner_ref" in columns:
        checks.append(
            f"SELECT m.fhir_row, 'rpps', {_quoted(FHIR_REASONS['practitioner'])}, "
            "'Practitioner/' || m.practitioner_ref "
            f"FROM m {joins} WHERE m.practitioner_ref IS NOT NULL AND {_PRACTITIONER} IS NULL"
        )
    union = " UNION ALL ".join(checks) or "SELECT NULL::BIGINT, NULL, NULL, NULL WHERE FALSE"
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{names["rejects"]}" AS WITH m AS (SELECT * FROM "{names["main"]}") '
        "SELECT CAST(line AS BIGINT) AS line, field, reason, CAST(value AS VARCHAR) AS value "
        f"FROM ({union}) r(line, field, reason, value)"
    )
    values = ", ".join(_value(spec, c.name, columns, picks, entry) for c in spec.columns)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE "{names["rows"]}" AS
        SELECT CAST(m.fhir_row AS BIGINT) AS {LINE}, {values}
        FROM "{names["main"]}" m {joins}
        WHERE m.fhir_row NOT IN (SELECT line FROM "{names["rejects"]}")
        """
    )


def _quoted(text: str) -> str:
    """A French reason as an SQL string literal (its quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"

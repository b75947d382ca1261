"""A research extract: the OMOP export of one declared project, k-anonymous, logged.

The pipeline: read the project's tables and period (objecting patients out, :mod:`.omop_export`),
generalise or suppress rare combinations of age band × sex × commune (:mod:`.anonymity`), release
for each person only those generalised values (a birth year standing for the band, no month or day,
a location row holding only the commune or département code), re-key ids for this project's export,
shift dates if asked, write, check k-anonymity on the files written, then append the extract to the
research log (who, when, project, tables, row counts, checksum of the manifest).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from proxisante.installation import Installation
from proxisante.network.scope import Scope, ScopedTables
from proxisante.research.anonymity import anonymise, departement, ladder
from proxisante.research.export import (
    ExportError,
    ExportOptions,
    OmopExport,
    check_destination,
    published,
    scope_entry,
)
from proxisante.research.projects import Project, append_log, project


class ExtractError(ExportError):
    """An extract that failed its own checks: nothing is logged as delivered."""


@dataclass
class ExtractResult:
    project: Project
    out: Path
    rows: dict[str, int]
    manifest_sha256: str
    report: dict[str, Any]
    # Warehouse pseudonyms left out by k-anonymity: for the caller's checks, never written anywhere.
    suppressed: list[int]


# The geography of a generalisation step (anonymity.py), as the extract report writes it.
GEOGRAPHY_WORDS = {"commune": "commune", "departement": "département", "none": "aucune"}


def extract(
    installation: Installation, project_id: str, out: Path, by: str, scope: Scope | None = None
) -> ExtractResult:
    """Build, check and log the extract of a declared project into ``out`` (absent or an empty folder), from
    the rows of ``scope`` (default: the network; ``network.scope``), which the manifest and the log name.

    The files are written to a temporary folder beside ``out``, checked, moved into place in one rename, then
    logged: an extract is whole and logged, or absent and not logged (a log that cannot be written removes it).
    """
    scope = scope or Scope.network()
    if not by.strip():
        raise ExtractError("qui fait l'extraction ? (--by)")
    home = installation.settings.home_dir
    spec = project(home, project_id)
    check_destination(out)
    with_geography = "commune" in spec.quasi_identifiers
    tables = tuple(dict.fromkeys([*spec.tables, *(("location",) if with_geography else ())]))
    options = ExportOptions(
        file_format=spec.format,
        date_shift=spec.date_shift,
        tables=tables,
        period=(spec.period.start, spec.period.end),
        vocabulary=spec.vocabulary,
    )
    visible = ScopedTables(installation.warehouse, scope)
    export = OmopExport(visible, options, excluded=installation.objections.person_ids())
    try:
        export.read()
        persons = _persons(export)
        anonymised = anonymise(persons, spec.k, spec.period.end.year, ladder(with_geography))
        export.drop_persons(anonymised.suppressed)
        _release(export, anonymised.released, with_geography)
        report = anonymised.report()
        report["excluded_objections"] = len(export.excluded)
        with published(out) as staging:
            extra = {"project": _described(spec), "scope": scope_entry(scope), "k_anonymity": report}
            written = export.write(staging, extra=extra)
            smallest = check_k_anonymity(staging, spec.k, spec.format)
            if smallest is not None and smallest < spec.k:
                raise ExtractError(f"contrôle de k-anonymat échoué : un groupe de {smallest} personnes (k = {spec.k})")
            (staging / "EXTRACT_REPORT.md").write_text(_report_markdown(spec, report, written.rows), encoding="utf-8")
    finally:
        export.close()
    try:
        append_log(
            home,
            {
                "event": "extract",
                "by": by,
                "project": spec.id,
                "approval": spec.approval.reference,
                "scope": scope_entry(scope),
                "out": str(out),
                "tables": sorted(written.rows),
                "rows": written.rows,
                "manifest_sha256": written.manifest_sha256,
                "k": spec.k,
                "date_shift": spec.date_shift,
                "persons_released": report["persons_released"],
                "persons_generalised": report["persons_generalised"],
                "persons_suppressed": report["persons_suppressed"],
            },
        )
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # not logged: not delivered
        raise
    return ExtractResult(spec, out, written.rows, written.manifest_sha256, report, anonymised.suppressed)


def _persons(export: OmopExport) -> pd.DataFrame:
    """One row per selected person with its quasi-identifiers (commune from the warehouse's location)."""
    location = export.warehouse.table("location").select("location_id", "location_source_value", "county")
    export.con.register("wh_location", export.warehouse.to_pyarrow(location))
    frame = export.con.execute(
        "SELECT p.person_id, p.year_of_birth, p.gender_concept_id, l.location_source_value AS commune, "
        "l.county FROM src_person p LEFT JOIN wh_location l USING (location_id)"
    ).df()
    export.con.unregister("wh_location")
    frame["departement"] = [
        departement(c) or (d or None) for c, d in zip(frame["commune"], frame["county"], strict=True)
    ]
    frame["commune"] = [c if departement(c) else None for c in frame["commune"]]
    return frame.drop(columns="county")


def _release(export: OmopExport, released: pd.DataFrame, with_geography: bool) -> None:
    """Persons keep only their released values; locations become one row per released code."""
    con = export.con
    con.register("released_frame", released)
    # Typed here: an empty frame (everyone suppressed) has no type to infer.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE released AS SELECT person_id::BIGINT AS person_id, "
        "year_of_birth::INTEGER AS year_of_birth, geo_level::VARCHAR AS geo_level, geography::VARCHAR AS geography "
        "FROM released_frame"
    )
    con.unregister("released_frame")
    con.execute(
        "CREATE OR REPLACE TABLE geo AS SELECT geo_level, geography, -row_number() OVER (ORDER BY geo_level, "
        "geography) AS location_id FROM (SELECT DISTINCT geo_level, geography FROM released WHERE geography <> '')"
    )
    con.execute(
        "UPDATE src_person SET year_of_birth = r.year_of_birth, month_of_birth = NULL, day_of_birth = NULL, "
        "birth_datetime = NULL, location_id = g.location_id FROM released r LEFT JOIN geo g "
        "ON g.geo_level = r.geo_level AND g.geography = r.geography WHERE src_person.person_id = r.person_id"
    )
    con.execute("DROP TABLE released")
    if not with_geography:
        return
    kept = "location_id IN (SELECT location_id FROM src_care_site)" if export._has("care_site") else "FALSE"
    con.execute(f"DELETE FROM src_location WHERE NOT ({kept})")
    con.execute(
        "INSERT INTO src_location BY NAME SELECT location_id, geography AS location_source_value, "
        "CASE WHEN geo_level = 'commune' THEN CASE WHEN geography LIKE '97%' THEN left(geography, 3) "
        "ELSE left(geography, 2) END ELSE geography END AS county FROM geo"
    )


def check_k_anonymity(out: Path, k: int, file_format: str = "csv") -> int | None:
    """Smallest group of persons of an extract sharing year of birth, sex and location code (None if
    no person); also refuses an extract that releases a month or day of birth."""

    def read(name: str) -> str:
        path = str(out / f"{name}.{file_format}").replace("'", "''")
        return f"read_parquet('{path}')" if file_format == "parquet" else f"read_csv('{path}', all_varchar=true)"

    con = duckdb.connect()
    location = (
        read("location")
        if (out / f"location.{file_format}").exists()
        else ("(SELECT NULL::VARCHAR AS location_id, NULL::VARCHAR AS location_source_value)")
    )
    exact = con.execute(
        f"SELECT count(*) FROM {read('person')} WHERE month_of_birth IS NOT NULL OR day_of_birth IS NOT NULL"
    ).fetchone()
    if exact and exact[0]:
        raise ExtractError(f"{out}: the extract releases a month or day of birth")
    row = con.execute(
        f"SELECT min(n) FROM (SELECT count(*) AS n FROM {read('person')} p LEFT JOIN {location} l "
        "ON l.location_id::VARCHAR = p.location_id::VARCHAR "
        "GROUP BY p.year_of_birth, p.gender_concept_id, coalesce(l.location_source_value, ''))"
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _described(spec: Project) -> dict[str, Any]:
    return {
        "id": spec.id,
        "title": spec.title,
        "purpose": spec.purpose,
        "approval": spec.approval.model_dump(mode="json"),
        "period": [spec.period.start.isoformat(), spec.period.end.isoformat()],
        "k": spec.k,
        "quasi_identifiers": spec.quasi_identifiers,
    }


def _report_markdown(spec: Project, report: dict[str, Any], rows: dict[str, int]) -> str:
    lines = [
        f"# Extrait de recherche — {spec.title}",
        "",
        f"Projet `{spec.id}`, autorisation {spec.approval.body} {spec.approval.reference}, période "
        f"{spec.period.start:%d/%m/%Y} – {spec.period.end:%d/%m/%Y}.",
        "",
        "## k-anonymat (tranche d'âge × sexe × commune)",
        "",
        f"- k = {report['k']} ; personnes sélectionnées : {report['persons_in']}",
        f"- diffusées : {report['persons_released']} ; dont généralisées : {report['persons_generalised']} ; "
        f"supprimées : {report['persons_suppressed']}",
        f"- patients opposés exclus : {report['excluded_objections']}",
        f"- groupes : {report['groups']} ; plus petit groupe : {report['smallest_group']}",
        "",
        "| étape | tranche d'âge (ans) | géographie | personnes diffusées |",
        "|---|---|---|---|",
    ]
    for n, step in enumerate(report["released_by_step"]):
        place = GEOGRAPHY_WORDS.get(step["geography"], step["geography"])
        lines.append(f"| {n} | {step['age_band_years']} | {place} | {step['persons']} |")
    lines += ["", "## Tables", "", "| table | lignes |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in rows.items()]
    return "\n".join(lines) + "\n"

"""OMOP CDM 5.4 export: official columns, ids re-keyed per export, per-person date shift, objectors
excluded, manifest and dictionary; round trip Synthea27Nj → warehouse → export → warehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from proxisante.ingest.omop import load_omop
from proxisante.installation import Installation, open_installation
from proxisante.omop.cdm import cdm_tables
from proxisante.research.export import ExportOptions, export_omop, selected_tables
from proxisante.settings import Settings
from tests.lib.paths import SHARED

SYNTHEA = SHARED / "data" / "omop-synthea27nj-5.4"
CLINICAL = ("person", "visit_occurrence", "visit_detail", "condition_occurrence", "drug_exposure",
            "procedure_occurrence", "device_exposure", "measurement", "observation", "death", "condition_era",
            "provider", "concept", "vocabulary", "concept_relationship", "observation_period")  # fmt: skip

pytestmark = pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared/data/omop-synthea27nj-5.4 not present")


def _open(home: Path) -> Installation:
    return open_installation(Settings(home=home))


def _load(inst: Installation, folder: Path, source: str) -> None:
    report = load_omop(folder, inst, source=source)
    assert report.committed and report.rows_quarantined == 0


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    inst = _open(tmp_path_factory.mktemp("original") / "home")
    _load(inst, SYNTHEA, "synthea")
    yield inst
    inst.close()


def content(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """Rows without their ids, each with what its ids point to (person, visit, provider): the content
    of a table whatever the numbering, and proof that the references survived."""
    cdm = cdm_tables()[table]
    ids = {*cdm.id_columns(), "person_id"}
    columns = [f't."{c}"' for c in cdm.column_names if c not in ids]
    joins = ""
    if cdm.has_person and table != "person":
        joins += " LEFT JOIN person p ON p.person_id = t.person_id"
        columns += ["p.year_of_birth", "p.month_of_birth", "p.day_of_birth", "p.gender_concept_id"]
    if "visit_occurrence_id" in cdm.column_names and table != "visit_occurrence":
        joins += " LEFT JOIN visit_occurrence v ON v.visit_occurrence_id = t.visit_occurrence_id"
        columns += ["v.visit_source_value", "v.visit_start_date"]
    if "provider_id" in cdm.column_names and table != "provider":
        joins += " LEFT JOIN provider pr ON pr.provider_id = t.provider_id"
        columns += ["pr.provider_source_value"]
    rows = con.execute(f"SELECT {', '.join(columns)} FROM {table} t {joins}").fetchall()
    return sorted(rows, key=repr)


def test_round_trip_gives_the_same_content(original: Installation, tmp_path: Path) -> None:
    out = tmp_path / "export"
    steps: list[str] = []
    result = export_omop(original.warehouse, out, ExportOptions(file_format="csv"), progress=steps.append)
    assert result.rows["person"] == 28 and result.rows["measurement"] == 10040
    # each table read, then each written: what the command's progress bar shows
    tables = [t.name for t in selected_tables(ExportOptions(file_format="csv"))]
    assert steps == tables + tables
    again = _open(tmp_path / "again")
    try:
        _load(again, out, "export")
        for table in CLINICAL:
            assert content(again.warehouse.duckdb, table) == content(original.warehouse.duckdb, table), table
        source_ids = {r[0] for r in original.warehouse.duckdb.execute("SELECT person_id FROM person").fetchall()}
        new_ids = {r[0] for r in again.warehouse.duckdb.execute("SELECT person_id FROM person").fetchall()}
        assert not source_ids & new_ids
    finally:
        again.close()


def test_official_columns_and_types_in_parquet(original: Installation, tmp_path: Path) -> None:
    out = tmp_path / "parquet"
    export_omop(original.warehouse, out, ExportOptions(file_format="parquet"))
    for table in ("person", "visit_occurrence", "measurement", "concept", "cdm_source"):
        cdm = cdm_tables()[table]
        found = pq.read_schema(out / f"{table}.parquet")
        assert found.names == cdm.column_names, table
        assert [f.type for f in found] == [c.arrow_type for c in cdm.columns], table
    person = pq.read_table(out / "person.parquet").column("person_id").to_pylist()
    assert sorted(person) == list(range(1, 29))


def test_two_exports_cannot_be_joined_and_the_manifest_has_no_key(original: Installation, tmp_path: Path) -> None:
    first = export_omop(original.warehouse, tmp_path / "a", ExportOptions(vocabulary=False))
    second = export_omop(original.warehouse, tmp_path / "b", ExportOptions(vocabulary=False))
    con = duckdb.connect()
    by_visit = con.execute(
        f"SELECT a.person_id, b.person_id FROM read_csv('{tmp_path}/a/visit_occurrence.csv', all_varchar=true) a "
        f"JOIN read_csv('{tmp_path}/b/visit_occurrence.csv', all_varchar=true) b USING (visit_source_value)"
    ).fetchall()
    assert len(by_visit) == 1791
    assert sum(a == b for a, b in by_visit) < 1791 / 4  # the same visit has another person id
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["tables"]["measurement"]["rows"] == 10040
    assert manifest["tables"]["person"]["sha256"] == first.manifest["tables"]["person"]["sha256"]
    assert first.manifest_sha256 != second.manifest_sha256
    text = (tmp_path / "a" / "manifest.json").read_text() + (tmp_path / "a" / "DATA_DICTIONARY.md").read_text()
    assert "key" not in json.dumps(manifest["options"]) and "person_source_value" in text


def test_date_shift_is_one_bounded_offset_per_person(original: Installation, tmp_path: Path) -> None:
    export_omop(original.warehouse, tmp_path / "shifted", ExportOptions(date_shift=True, vocabulary=False))
    con = original.warehouse.duckdb
    con.execute(f"CREATE TEMP TABLE shifted AS SELECT * FROM read_csv('{tmp_path}/shifted/visit_occurrence.csv')")
    offsets = con.execute(
        "SELECT v.person_id, s.person_id, s.visit_start_date - v.visit_start_date, "
        "s.visit_end_date - v.visit_end_date FROM visit_occurrence v JOIN shifted s USING (visit_source_value)"
    ).fetchall()
    con.execute("DROP TABLE shifted")
    assert len(offsets) == 1791
    per_person: dict[int, set[int]] = {}
    for old, new, start, end in offsets:
        assert start == end  # durations kept
        per_person.setdefault(old, set()).add((new, start))
    assert all(len(v) == 1 for v in per_person.values())  # one new id and one offset per person
    shifts = [next(iter(v))[1] for v in per_person.values()]
    assert all(1 <= abs(s) <= 180 for s in shifts) and len(set(shifts)) > 5


def test_objecting_persons_and_other_periods_are_left_out(original: Installation, tmp_path: Path) -> None:
    con = original.warehouse.duckdb
    objector = con.execute(
        "SELECT person_id FROM measurement GROUP BY ALL ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]  # fmt: skip
    from datetime import date

    options = ExportOptions(
        tables=("measurement", "condition_occurrence"), period=(date(2015, 1, 1), date(2019, 12, 31))
    )
    result = export_omop(original.warehouse, tmp_path / "x", options, excluded=frozenset({objector}))
    expected = con.execute(
        "SELECT count(*) FROM measurement WHERE person_id <> ? AND measurement_date BETWEEN '2015-01-01' AND "
        "'2019-12-31'",
        [objector],
    ).fetchone()[0]
    assert result.rows["measurement"] == expected
    assert not (tmp_path / "x" / "drug_exposure.csv").exists() and (tmp_path / "x" / "person.csv").exists()
    assert result.manifest["excluded_persons_objection"] == 1


def test_cli_ingest_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from proxisante.cli import app
    from proxisante.research.projects import read_log

    monkeypatch.setenv("PROXISANTE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    loaded = runner.invoke(app, ["ingest", str(SYNTHEA), "--format", "omop", "--source", "synthea"])
    assert loaded.exit_code == 0, loaded.output
    assert "10" in loaded.output and "NOTE.csv" in loaded.output
    out = tmp_path / "out"
    done = runner.invoke(
        app, ["export", "omop", str(out), "--format", "parquet", "--date-shift", "--no-vocabulary", "--by", "dim"]
    )
    assert done.exit_code == 0, done.output
    assert "Export OMOP" in done.output  # the progress bar of an 11-second command (issue 21)
    assert pq.read_metadata(out / "measurement.parquet").num_rows == 10040
    assert not (out / "concept.parquet").exists()
    entry = read_log(tmp_path / "home")[-1]
    assert entry["event"] == "export omop" and entry["by"] == "dim" and entry["rows"]["person"] == 28
    again = runner.invoke(app, ["export", "omop", str(out)])
    assert again.exit_code == 2 and "n'est pas vide" in again.output


def test_rows_whose_required_reference_is_not_exported_are_counted_out(original: Installation, tmp_path: Path) -> None:
    """visit_detail.visit_occurrence_id is NOT NULL: without the visits, the details cannot be written."""
    alone = export_omop(original.warehouse, tmp_path / "a", ExportOptions(tables=("visit_detail",), vocabulary=False))
    assert alone.rows["visit_detail"] == 0 and alone.dropped == {"visit_detail": 1791}
    assert alone.manifest["rows_dropped_references_outside_export"] == {"visit_detail": 1791}
    both = ExportOptions(tables=("visit_detail", "visit_occurrence"), vocabulary=False)
    assert export_omop(original.warehouse, tmp_path / "b", both).rows["visit_detail"] == 1791

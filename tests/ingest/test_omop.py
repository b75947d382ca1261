"""OMOP CDM 5.4 import: the real Synthea27Nj dataset (OHDSI Eunomia) loads whole, pseudonymised,
idempotent, and a broken row is quarantined alone."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from proxisante.ingest.files import InputFileError
from proxisante.ingest.omop import load_omop, vault_source
from proxisante.installation import Installation, open_installation
from proxisante.omop.cdm import cdm_tables
from proxisante.settings import Settings
from tests.lib.paths import SHARED

SYNTHEA = SHARED / "data" / "omop-synthea27nj-5.4"
EXPECTED = {
    "person": 28, "visit_occurrence": 1791, "condition_occurrence": 470, "drug_exposure": 883,
    "procedure_occurrence": 1649, "measurement": 10040, "observation": 8099, "death": 3,
    "visit_detail": 1791, "provider": 67, "concept": 2294, "concept_relationship": 266588,
    "condition_era": 469, "device_exposure": 1,
}  # fmt: skip

pytestmark = pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared/data/omop-synthea27nj-5.4 not present")


def _open(home: Path) -> Installation:
    return open_installation(Settings(home=home))


def _load(inst: Installation, folder: Path, source: str = "synthea"):
    return load_omop(folder, inst, source=source)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    inst = _open(tmp_path_factory.mktemp("omop") / "home")
    report = _load(inst, SYNTHEA)
    assert report.committed and report.rows_quarantined == 0
    yield inst
    inst.close()


def test_counts_after_load_equal_the_source(loaded: Installation) -> None:
    counts = loaded.warehouse.counts()
    assert {name: counts[name] for name in EXPECTED} == EXPECTED
    assert counts["observation_period"] == 28  # rebuilt from the events, one per person


def test_persons_are_pseudonymised_and_linked_only_in_the_vault(loaded: Installation) -> None:
    con = loaded.warehouse.duckdb
    source_values = [row["person_source_value"] for row in csv.DictReader((SYNTHEA / "PERSON.csv").open())]
    person_ids = {r[0] for r in con.execute("SELECT person_id FROM person").fetchall()}
    assert len(person_ids) == 28 and not person_ids & set(range(1, 1000))  # keyed hashes, not 1..28
    assert con.execute("SELECT count(person_source_value) FROM person").fetchone() == (0,)
    for table in ("person", "etl_quarantine", "visit_occurrence", "observation"):
        text = con.execute(f"SELECT string_agg(to_json(t)::VARCHAR, '') FROM {table} t").fetchone()[0] or ""
        assert not any(value in text for value in source_values), table
    links = loaded.vault.patient_links(vault_source("synthea")).to_pylist()
    assert {link["person_id"] for link in links} == person_ids
    # Every condition with a visit points to a visit of its own person (one has none in the source).
    orphans = con.execute(
        "SELECT count(*) FROM condition_occurrence c LEFT JOIN visit_occurrence v USING (visit_occurrence_id) "
        "WHERE v.person_id IS DISTINCT FROM c.person_id"
    ).fetchone()
    assert orphans == (1,)


def test_ids_keep_the_links_of_the_source(loaded: Installation) -> None:
    """The visit of each condition in the warehouse is the source's visit (same dates, same person)."""
    source = duckdb.connect()
    expected = source.execute(
        f"SELECT c.condition_start_date::DATE, v.visit_start_date::DATE, p.year_of_birth, c.condition_concept_id "
        f"FROM '{SYNTHEA}/CONDITION_OCCURRENCE.csv' c JOIN '{SYNTHEA}/VISIT_OCCURRENCE.csv' v USING "
        f"(visit_occurrence_id) JOIN '{SYNTHEA}/PERSON.csv' p ON p.person_id = c.person_id ORDER BY ALL"
    ).fetchall()
    actual = loaded.warehouse.duckdb.execute(
        "SELECT c.condition_start_date, v.visit_start_date, p.year_of_birth, c.condition_concept_id "
        "FROM condition_occurrence c JOIN visit_occurrence v USING (visit_occurrence_id) "
        "JOIN person p ON p.person_id = c.person_id ORDER BY ALL"
    ).fetchall()
    assert actual == expected


def test_loading_twice_changes_nothing_even_from_parquet_with_lower_case_names(
    loaded: Installation, tmp_path: Path
) -> None:
    before = loaded.warehouse.counts()
    again = _load(loaded, SYNTHEA)
    assert not again.committed and all(f.skipped for f in again.files)
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    con = duckdb.connect()
    for name in ("PERSON", "VISIT_OCCURRENCE", "CONDITION_OCCURRENCE", "DEATH"):
        # Typed Parquet (dates, timestamps, integers as DuckDB detects them), as another ETL writes it.
        con.execute(f"COPY (SELECT * FROM read_csv('{SYNTHEA}/{name}.csv')) "
                    f"TO '{parquet}/{name.lower()}.parquet' (FORMAT parquet)")  # fmt: skip
    report = _load(loaded, parquet)
    assert report.committed and report.rows_quarantined == 0 and report.rows_loaded == 28 + 1791 + 470 + 3
    after = loaded.warehouse.counts()
    assert {k: v for k, v in after.items() if not k.startswith("etl_")} == {
        k: v for k, v in before.items() if not k.startswith("etl_")
    }


def test_a_broken_row_is_quarantined_alone(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(SYNTHEA, broken, copy_function=shutil.copyfile)
    _edit(broken / "MEASUREMENT.csv", 7, "measurement_date", "2013-02-30")
    _edit(broken / "CONDITION_OCCURRENCE.csv", 3, "person_id", "999999")
    _edit(broken / "DRUG_EXPOSURE.csv", 5, "drug_concept_id", "aspirin")
    inst = _open(tmp_path / "home")
    try:
        report = _load(inst, broken)
        counts = inst.warehouse.counts()
        rows = inst.warehouse.duckdb.execute(
            "SELECT file_name, line, field, reason, value FROM etl_quarantine ORDER BY file_name"
        ).fetchall()
    finally:
        inst.close()
    assert report.committed and report.rows_quarantined == 3
    assert counts["measurement"] == 10040 - 1 and counts["condition_occurrence"] == 470 - 1
    assert counts["drug_exposure"] == 883 - 1 and counts["person"] == 28
    assert rows == [
        (
            "CONDITION_OCCURRENCE.csv",
            4,
            "person_id",
            "personne inconnue (aucune ligne de person n'a ce person_id)",
            "***",
        ),
        ("DRUG_EXPOSURE.csv", 6, "drug_concept_id", "pas un entier", "aspirin"),
        ("MEASUREMENT.csv", 8, "measurement_date", "pas une date (AAAA-MM-JJ)", "2013-02-30"),
    ]


def test_a_missing_required_column_stops_the_batch(tmp_path: Path) -> None:
    folder = tmp_path / "cdm"
    folder.mkdir()
    rows = list(csv.DictReader((SYNTHEA / "PERSON.csv").open()))
    with (folder / "person.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [c for c in rows[0] if c != "year_of_birth"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    inst = _open(tmp_path / "home")
    try:
        with pytest.raises(InputFileError, match=r"person\.csv : ligne 1 : .*year_of_birth"):
            _load(inst, folder)
        assert inst.warehouse.counts()["person"] == 0
    finally:
        inst.close()


def test_a_birth_after_the_day_of_the_load_is_quarantined(tmp_path: Path) -> None:
    """``as_of`` is the day the checks take as today, as for the other formats: a birth in 2014 loaded as of
    2010 cannot be, an earlier one loads."""
    folder = tmp_path / "cdm"
    folder.mkdir()
    shutil.copyfile(SYNTHEA / "PERSON.csv", folder / "PERSON.csv")
    later = sum(int(row["year_of_birth"]) > 2010 for row in csv.DictReader((folder / "PERSON.csv").open()))
    inst = _open(tmp_path / "home")
    try:
        report = load_omop(folder, inst, source="synthea", as_of=date(2010, 6, 1))
        reasons = inst.warehouse.duckdb.execute(
            "SELECT reason FROM etl_quarantine WHERE field = 'year_of_birth'"
        ).fetchall()
        assert 0 < later < report.rows_read and len(reasons) == later == report.rows_quarantined
        assert all(r.startswith("année de naissance impossible") for (r,) in reasons)
    finally:
        inst.close()


def test_warehouse_tables_have_the_official_columns() -> None:
    """The OMOP tables of the warehouse are those of the official DDL, same columns, same order, then the
    network's ``structure`` column on every table but the vocabularies."""
    from proxisante.warehouse.schema import STRUCTURE, TABLES

    official = cdm_tables()
    omop = [t for t in TABLES if t.group == "omop"]
    assert len(omop) == 29
    for table in omop:
        extra = [STRUCTURE] if table.per_structure else []
        assert list(table.columns) == official[table.name].column_names + extra, table.name
    assert sum(not t.per_structure for t in omop) == 10
    assert official["measurement"].column("measurement_date").required
    assert official["visit_occurrence"].id_columns() == [
        "visit_occurrence_id", "provider_id", "care_site_id", "preceding_visit_occurrence_id"
    ]  # fmt: skip


def _edit(path: Path, row: int, column: str, value: str) -> None:
    """Set one field of the ``row``-th data row (1-based; the file's line row + 1)."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows[row][rows[0].index(column)] = value
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_events_of_a_later_batch_find_their_persons_through_the_vault(tmp_path: Path) -> None:
    first, second = tmp_path / "persons", tmp_path / "events"
    first.mkdir()
    second.mkdir()
    shutil.copyfile(SYNTHEA / "PERSON.csv", first / "PERSON.csv")
    for name in ("VISIT_OCCURRENCE", "CONDITION_OCCURRENCE"):
        shutil.copyfile(SYNTHEA / f"{name}.csv", second / f"{name}.csv")
    inst = _open(tmp_path / "home")
    try:
        assert _load(inst, first).rows_loaded == 28
        report = _load(inst, second)
        assert report.rows_quarantined == 0 and report.rows_loaded == 1791 + 470
        orphans = inst.warehouse.duckdb.execute(
            "SELECT count(*) FROM condition_occurrence WHERE person_id NOT IN (SELECT person_id FROM person)"
        ).fetchone()
        assert orphans == (0,)
        # Another source's events do not find these persons.
        other = _load(inst, second, source="autre")
        assert other.rows_loaded == 0 and other.rows_quarantined == 1791 + 470
    finally:
        inst.close()

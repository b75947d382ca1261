"""The pivot loader: every defect kind is quarantined with file, line, field and reason; nothing is
lost; a batch is atomic and idempotent; a newer extract updates by natural key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import tests.lib.pivot_fixture as fx
from proxisante import vocab
from proxisante.identity.vault import IDENTITY_COLUMNS
from proxisante.ingest.batch import LoadReport
from proxisante.ingest.files import InputFileError
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import Installation
from proxisante.warehouse.schema import TABLES


def load(inst: Installation, folder: Path, source: str = "ehr") -> LoadReport:
    return load_pivot(folder, inst, source=source)


def snapshot(inst: Installation) -> dict[str, list[tuple]]:
    """Every row of every warehouse table, sorted: two equal snapshots mean an unchanged warehouse."""
    con = inst.warehouse.duckdb
    return {t.name: sorted(map(repr, con.execute(f"SELECT * FROM {t.name}").fetchall())) for t in TABLES}


def vault_snapshot(inst: Installation) -> dict[str, list[tuple]]:
    """Every identity (without its update time) and every local-id link of the vault, sorted."""
    columns = ", ".join(("person_id", *IDENTITY_COLUMNS))
    with inst.vault.connect() as con:
        return {
            "identity": sorted(map(repr, con.execute(f"SELECT {columns} FROM identity").fetchall())),
            "source_patient": sorted(map(repr, con.execute("SELECT * FROM source_patient").fetchall())),
        }


def quarantine(inst: Installation) -> list[tuple]:
    return inst.warehouse.duckdb.execute(
        "SELECT file_name, line, field, reason, value FROM etl_quarantine ORDER BY file_name, line, field"
    ).fetchall()


def with_changes(**changes: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    tables = copy.deepcopy(fx.TABLES)
    tables.update(changes)
    return tables


def test_clean_export_loads_every_row(installation: Installation, tmp_path: Path) -> None:
    report = load(installation, fx.write(tmp_path / "in"))
    assert report.committed and report.rows_quarantined == 0
    assert report.rows_read == report.rows_loaded == sum(len(rows) for rows in fx.TABLES.values())
    counts = installation.warehouse.counts()
    assert counts["person"] == 3 and counts["visit_occurrence"] == 3 and counts["death"] == 1
    assert counts["drug_exposure"] == 2  # one prescription, one vaccination
    assert counts["cost"] == 2 and counts["fr_billed_act"] == 2 and counts["location"] == 3
    assert counts["observation_period"] == 3
    con = installation.warehouse.duckdb
    assert con.execute("SELECT condition_source_value FROM condition_occurrence").fetchall() == [("E11.9",)]
    assert con.execute("SELECT value_as_number, measurement_source_value FROM measurement").fetchall() == [
        (7.2, "1577")
    ]
    assert con.execute("SELECT sum(amount) FROM fr_billed_act").fetchone()[0] == 70
    name = con.execute(
        "SELECT concept_name FROM concept c JOIN measurement m ON c.concept_id = m.measurement_source_concept_id"
    ).fetchone()
    # The local concept is named from the shipped NABM list.
    assert name == (vocab.mapping("nabm", "label_fr")["1577"],)
    assert (
        con.execute(
            "SELECT count(*) FROM fr_mt_declaration m JOIN provider p USING (provider_id) JOIN person USING (person_id)"
        ).fetchone()[0]
        == 2
    )


def test_loading_the_same_files_twice_changes_nothing(installation: Installation, tmp_path: Path) -> None:
    folder = fx.write(tmp_path / "in")
    load(installation, folder)
    before = snapshot(installation)
    again = load(installation, folder)
    assert not again.committed and all(f.skipped for f in again.files)
    assert snapshot(installation) == before


def test_same_content_in_new_files_is_an_upsert_not_a_duplicate(installation: Installation, tmp_path: Path) -> None:
    load(installation, fx.write(tmp_path / "a"))
    before = {k: len(v) for k, v in snapshot(installation).items() if not k.startswith("etl_")}
    # Same rows, other encoding and separator: other checksums, so the batch runs, and upserts.
    report = load(installation, fx.write(tmp_path / "b", encoding="cp1252", delimiter=","))
    assert report.committed and report.rows_quarantined == 0
    after = {k: len(v) for k, v in snapshot(installation).items() if not k.startswith("etl_")}
    assert after == before


def test_newer_extract_updates_by_natural_key(installation: Installation, tmp_path: Path) -> None:
    load(installation, fx.write(tmp_path / "v1"))
    encounters = copy.deepcopy(fx.TABLES["encounters"])
    encounters[0]["date"] = "11/01/2025"  # corrected in the EHR
    encounters.append(
        {"encounter_id": "E4", "patient_id": "P1", "rpps": fx.GP1, "date": "01/04/2025", "encounter_type": "TCG"}
    )
    # A newer extract with encounters only: patients and professionals are known from the first batch.
    report = load(installation, fx.write(tmp_path / "v2", {"encounters": encounters}))
    assert report.rows_quarantined == 0
    con = installation.warehouse.duckdb
    dates = sorted(str(d) for (d,) in con.execute("SELECT visit_start_date FROM visit_occurrence").fetchall())
    assert dates == ["2025-01-11", "2025-02-02", "2025-03-05", "2025-04-01"]


@pytest.mark.parametrize(
    ("table", "row_change", "field", "reason"),
    [
        ("encounters", {"date": "31/02/2025"}, "date", "date invalide"),
        ("encounters", {"date": "01/01/2099"}, "date", "date dans le futur"),
        ("encounters", {"date": "01/01/1960"}, "date", "antérieure à la naissance du patient"),
        ("encounters", {"patient_id": "P2", "date": "01/07/2025"}, "date", "postérieure au décès du patient"),
        ("encounters", {"encounter_type": "XYZ"}, "encounter_type", "code NGAP inconnu"),
        ("encounters", {"patient_id": "P99"}, "patient_id", "patient_id inconnu"),
        ("encounters", {"rpps": "10000000001"}, "rpps", "rpps inconnu"),
        ("encounters", {"rpps": ""}, "rpps", "champ obligatoire vide"),
        ("diagnoses", {"cim10": "diabete"}, "cim10", "code CIM-10 invalide"),
        ("diagnoses", {"encounter_id": "E404"}, "encounter_id", "encounter_id inconnu"),
        ("prescriptions", {"atc": "A10-BA"}, "atc", "code ATC invalide"),
        ("prescriptions", {"cip13": "3400930000011"}, "cip13", "code CIP13 invalide"),
        ("prescriptions", {"cip13": "", "atc": ""}, "cip13", "l'un de cip13, atc est requis"),
        ("prescriptions", {"duration_days": "0"}, "duration_days", "sous le minimum plausible"),
        ("lab_results", {"value": "sept"}, "value", "pas un nombre"),
        ("lab_results", {"nabm": "15777"}, "nabm", "code NABM invalide"),
        ("acts", {"amount": "-3"}, "amount", "sous le minimum plausible"),
        ("acts", {"payer": "MUTUELLE"}, "payer", "payeur inconnu"),
        ("coverage", {"cim10": "", "coverage_type": "ALD"}, "cim10", "une ALD exige son code CIM-10"),
        ("coverage", {"end_date": "01/01/2019"}, "end_date", "end_date avant start_date"),
        ("coverage", {"start_date": "01/01/2099"}, "start_date", "date dans le futur"),
        ("professionals", {"rpps": "10000000010"}, "rpps", "numéro RPPS invalide"),
        ("professionals", {"fte": "0"}, "fte", "doit être supérieur à 0"),
        ("patients", {"birth_date": "12/01/1865"}, "birth_date", "date invraisemblable"),
        ("patients", {"sex": "X"}, "sex", "code de sexe inconnu"),
        ("patients", {"commune_insee": "7505"}, "commune_insee", "code commune INSEE invalide"),
    ],
)
def test_each_defect_is_quarantined_with_file_line_field_and_reason(
    installation: Installation, tmp_path: Path, table: str, row_change: dict[str, str], field: str, reason: str
) -> None:
    rows = copy.deepcopy(fx.TABLES[table])
    rows.append({**rows[0], **row_change, **_new_key(table)})
    report = load(installation, fx.write(tmp_path / "in", with_changes(**{table: rows})))
    file_name, line = f"{table}.csv", len(rows) + 1
    found = [q for q in quarantine(installation) if q[:3] == (file_name, line, field)]
    assert found and reason in found[0][3], quarantine(installation)
    assert report.rows_read == report.rows_loaded + report.rows_quarantined  # nothing lost
    for f in report.files:
        assert f.rows_read == f.rows_loaded + f.rows_quarantined
    expected = len(fx.TABLES[table]) - (1 if table == "professionals" and field == "rpps" else 0)
    assert next(f for f in report.files if f.pivot_table == table).rows_loaded >= expected - 1


def _new_key(table: str) -> dict[str, str]:
    from proxisante.ingest.pivot.format import TABLES_BY_NAME

    key = TABLES_BY_NAME[table].key
    return {} if key == "rpps" else {key: "NEW-1"}


def test_wrong_nir_key_is_quarantined_and_its_value_masked(installation: Installation, tmp_path: Path) -> None:
    patients = copy.deepcopy(fx.TABLES["patients"])
    bad = fx.NIR_ALICE[:-2] + ("00" if fx.NIR_ALICE[-2:] != "00" else "01")
    patients.append({**patients[0], "patient_id": "P9", "ins": bad})
    load(installation, fx.write(tmp_path / "in", with_changes(patients=patients)))
    rows = quarantine(installation)
    assert ("patients.csv", 5, "ins", "NIR/INS invalide (15 caractères avec une clé valide attendus)", "***") in rows
    record = installation.warehouse.duckdb.execute("SELECT record FROM etl_quarantine").fetchone()[0]
    assert bad not in record and "Durand" not in record and '"birth_date":"12/01/1965"' in record


def test_an_end_date_after_the_extract_is_a_right_still_running(installation: Installation, tmp_path: Path) -> None:
    coverage = copy.deepcopy(fx.TABLES["coverage"])
    coverage[1]["end_date"] = "31/12/2099"
    report = load(installation, fx.write(tmp_path / "in", with_changes(coverage=coverage)))
    assert report.rows_quarantined == 0


def test_duplicate_keys_keep_the_first_row(installation: Installation, tmp_path: Path) -> None:
    encounters = copy.deepcopy(fx.TABLES["encounters"])
    encounters.append(dict(encounters[0]))  # exact duplicate
    encounters.append({**encounters[1], "date": "03/02/2025"})  # same key, other content
    report = load(installation, fx.write(tmp_path / "in", with_changes(encounters=encounters)))
    rows = quarantine(installation)
    assert ("encounters.csv", 5, "encounter_id", "encounter_id en double (première occurrence ligne 2)", "E1") in rows
    assert ("encounters.csv", 6, "encounter_id", "encounter_id en double (première occurrence ligne 3)", "E2") in rows
    assert next(f for f in report.files if f.pivot_table == "encounters").rows_loaded == 3


def test_events_of_a_rejected_patient_are_quarantined_too(installation: Installation, tmp_path: Path) -> None:
    patients = copy.deepcopy(fx.TABLES["patients"])
    patients[0]["birth_date"] = "not a date"
    load(installation, fx.write(tmp_path / "in", with_changes(patients=patients)))
    reasons = {(q[0], q[2]) for q in quarantine(installation)}
    assert ("patients.csv", "birth_date") in reasons
    assert ("encounters.csv", "patient_id") in reasons and ("acts.csv", "patient_id") in reasons
    assert installation.warehouse.counts()["person"] == 2


def test_malformed_line_is_quarantined_and_the_rest_loads(installation: Installation, tmp_path: Path) -> None:
    folder = fx.write(tmp_path / "in")
    path = folder / "encounters.csv"
    path.write_text(path.read_text() + "E9;P1;extra;fields;too;many;here\n")
    report = load(installation, folder)
    assert ("encounters.csv", 5, None, "ligne mal formée : 7 champ(s), 6 attendu(s)", None) in quarantine(installation)
    assert next(f for f in report.files if f.pivot_table == "encounters").rows_loaded == 3


def test_a_missing_required_column_refuses_the_batch_and_changes_nothing(
    installation: Installation, tmp_path: Path
) -> None:
    load(installation, fx.write(tmp_path / "v1"))
    before = snapshot(installation)
    folder = fx.write(
        tmp_path / "v2",
        with_changes(encounters=[{**r, "encounter_id": r["encounter_id"] + "b"} for r in fx.TABLES["encounters"]]),
    )
    text = (folder / "encounters.csv").read_text().replace("encounter_type", "type_rencontre")
    (folder / "encounters.csv").write_text(text)
    missing = r"encounters\.csv : ligne 1 : colonne\(s\) obligatoire\(s\) absente\(s\) : encounter_type"
    with pytest.raises(InputFileError, match=missing):
        load(installation, folder)
    assert snapshot(installation) == before


def test_a_failure_during_commit_rolls_everything_back(
    installation: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(installation, fx.write(tmp_path / "v1"))
    before = snapshot(installation)
    from proxisante.warehouse import load as load_module

    def explode(warehouse: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(load_module, "rebuild_observation_periods", explode)
    encounters = [*fx.TABLES["encounters"], {**fx.TABLES["encounters"][0], "encounter_id": "E5"}]
    with pytest.raises(RuntimeError, match="disk full"):
        load(installation, fx.write(tmp_path / "v2", with_changes(encounters=encounters)))
    assert snapshot(installation) == before

"""No silent loss: a reference file that cannot be read refuses the batch, and a line rejected only because
its patient, professional, encounter or site is not loaded yet waits and loads once the reference arrives."""

from __future__ import annotations

import copy
import gzip
import os
from pathlib import Path

import pytest

import tests.lib.pivot_fixture as fx
from proxisante.ingest.files import InputFileError
from proxisante.installation import Installation
from proxisante.warehouse.status import quarantined_rows
from tests.ingest.pivot.test_load import load, snapshot, vault_snapshot, with_changes


def _make_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _make_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _make_dangling_link(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.parent / "gone.csv")


def _make_gzip_only(path: Path) -> None:
    path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()


@pytest.mark.parametrize("table", ["patients", "professionals", "encounters", "sites"])
@pytest.mark.parametrize("damage", [_make_directory, _make_fifo, _make_dangling_link, _make_gzip_only])
def test_a_reference_file_that_cannot_be_read_refuses_the_batch(
    installation: Installation, tmp_path: Path, table: str, damage: object
) -> None:
    folder = fx.write(tmp_path / "in")
    damage(folder / f"{table}.csv")  # type: ignore[operator]
    before, vault_before = snapshot(installation), vault_snapshot(installation)
    with pytest.raises(InputFileError, match=rf"{table}\.csv.*ne peut pas être lu"):
        load(installation, folder)
    assert snapshot(installation) == before and vault_snapshot(installation) == vault_before


def test_an_unreadable_patients_file_refuses_the_batch(
    installation: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fx.write(tmp_path / "in")
    (folder / "patients.csv").chmod(0)
    if os.geteuid() == 0:  # root reads every file: refuse it the way the kernel refuses anyone else
        opened = Path.open

        def refuse(path: Path, *args: object, **kwargs: object) -> object:
            if path.name == "patients.csv":
                raise PermissionError(13, "Permission denied")
            return opened(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputFileError, match=r"patients\.csv : fichier illisible"):
        load(installation, folder)


def _new_patient(patient_id: str) -> dict[str, str]:
    return {**fx.TABLES["patients"][0], "patient_id": patient_id, "ins": fx.nir("1700175056123")}


def _check_counts(installation: Installation) -> None:
    """Per file: rows read = loaded + quarantined, and the quarantine holds exactly the lines not loaded."""
    con = installation.warehouse.duckdb
    for name, batch, read, loaded, quarantined in con.execute(
        "SELECT file_name, batch_id, rows_read, rows_loaded, rows_quarantined FROM etl_manifest"
    ).fetchall():
        assert read == loaded + quarantined, name
        lines = con.execute(
            "SELECT count(DISTINCT line) FROM etl_quarantine WHERE file_name = ? AND batch_id = ?", [name, batch]
        ).fetchone()[0]
        assert lines == quarantined, name


def test_events_of_a_header_only_patients_file_load_once_it_is_fixed(
    installation: Installation, tmp_path: Path
) -> None:
    folder = fx.write(tmp_path / "in", with_changes(patients=[]))  # header only: every event waits
    first = load(installation, folder)
    assert first.committed and installation.warehouse.counts()["visit_occurrence"] == 0
    _check_counts(installation)
    waiting = quarantined_rows(installation.warehouse, "encounters")
    assert len(waiting) == 3 and all("en attente" in r for r in waiting["reason"])
    assert set(waiting["file_name"]) == {"encounters.csv"} and sorted(waiting["line"]) == [2, 3, 4]

    fx.write(folder, {"patients": fx.TABLES["patients"]})  # the user fixes patients.csv only
    second = load(installation, folder)
    assert second.committed
    assert any(f.waiting and f.rows_loaded == 3 for f in second.files if f.pivot_table == "encounters")
    counts = installation.warehouse.counts()
    assert counts["visit_occurrence"] == 3 and counts["condition_occurrence"] == 1 and counts["fr_billed_act"] == 2
    assert counts["measurement"] == 1 and counts["fr_mt_declaration"] == 2 and counts["etl_waiting"] == 0
    assert len(quarantined_rows(installation.warehouse)) == 0
    _check_counts(installation)
    # The same result as a clean load of the fixed export, but for the bookkeeping.
    assert counts["observation_period"] == 3


def test_events_of_a_professional_added_later_load_then(installation: Installation, tmp_path: Path) -> None:
    professionals = [p for p in fx.TABLES["professionals"] if p["rpps"] != fx.NURSE]
    folder = fx.write(tmp_path / "in", with_changes(professionals=professionals))
    load(installation, folder)
    waiting = quarantined_rows(installation.warehouse)
    assert list(waiting["field"]) == ["rpps"] and list(waiting["line"]) == [4]  # E3, by the nurse
    assert installation.warehouse.counts()["visit_occurrence"] == 2
    fx.write(folder, {"professionals": fx.TABLES["professionals"]})
    load(installation, folder)
    assert installation.warehouse.counts()["visit_occurrence"] == 3
    assert len(quarantined_rows(installation.warehouse)) == 0
    _check_counts(installation)


def test_a_line_still_without_its_reference_keeps_waiting(installation: Installation, tmp_path: Path) -> None:
    encounters = [*fx.TABLES["encounters"], {**fx.TABLES["encounters"][0], "encounter_id": "E9", "patient_id": "P9"}]
    load(installation, fx.write(tmp_path / "v1", with_changes(encounters=encounters)))
    patients = [*fx.TABLES["patients"], _new_patient("P8")]
    load(installation, fx.write(tmp_path / "v2", {"patients": patients}))  # P8 arrives, not P9
    rows = quarantined_rows(installation.warehouse)
    assert list(rows["line"]) == [5] and "en attente" in rows["reason"][0]
    assert installation.warehouse.counts()["etl_waiting"] == 1
    _check_counts(installation)


def test_a_waiting_line_replaced_by_a_newer_one_never_overwrites_it(installation: Installation, tmp_path: Path) -> None:
    encounters = copy.deepcopy(fx.TABLES["encounters"])
    encounters[0]["patient_id"] = "P9"  # E1 waits for an unknown patient
    load(installation, fx.write(tmp_path / "v1", with_changes(encounters=encounters)))
    fixed = copy.deepcopy(fx.TABLES["encounters"])
    fixed[0]["date"] = "11/01/2025"  # a newer extract has E1, with its patient
    load(installation, fx.write(tmp_path / "v2", {"encounters": fixed}))
    patients = [*fx.TABLES["patients"], _new_patient("P9")]
    load(installation, fx.write(tmp_path / "v3", {"patients": patients}))  # P9 arrives: E1 of v1 must not return
    dates = installation.warehouse.duckdb.execute("SELECT visit_start_date FROM visit_occurrence").fetchall()
    assert sorted(str(d) for (d,) in dates) == ["2025-01-11", "2025-02-02", "2025-03-05"]
    assert installation.warehouse.counts()["etl_waiting"] == 0
    rows = quarantined_rows(installation.warehouse)
    assert len(rows) == 1 and "remplacée" in rows["reason"][0]
    _check_counts(installation)


def test_an_omop_person_file_that_cannot_be_read_refuses_the_batch(installation: Installation, tmp_path: Path) -> None:
    from proxisante.ingest.files import InputFileError
    from proxisante.ingest.omop import load_omop

    folder = tmp_path / "omop"
    (folder / "PERSON.csv").mkdir(parents=True)
    (folder / "VISIT_OCCURRENCE.csv").write_text("visit_occurrence_id,person_id\n1,1\n", encoding="utf-8")
    before = snapshot(installation)
    with pytest.raises(InputFileError, match=r"PERSON\.csv : c'est un dossier"):
        load_omop(folder, installation, source="omop")
    assert snapshot(installation) == before


def test_a_fhir_condition_waits_for_its_patient_across_files(installation: Installation, tmp_path: Path) -> None:
    from proxisante.ingest.fhir.load import load_fhir
    from tests.ingest.fhir.test_load import condition, patient, practitioner, write_ndjson

    folder = tmp_path / "fhir"
    folder.mkdir()
    resources = [practitioner(), patient("p1", fx.NIR_ALICE), condition("c1", "Patient/p1")]
    resources.append(condition("c2", "Patient/p2"))  # line 4: a patient not loaded yet
    write_ndjson(folder / "export-1.ndjson", resources)

    def fhir(path: Path) -> object:
        return load_fhir(path, installation, source="ehr")

    fhir(folder)
    rows = quarantined_rows(installation.warehouse)
    assert list(zip(rows["file_name"], rows["line"], strict=True)) == [("export-1.ndjson", 4)]
    assert "en attente" in rows["reason"][0] and installation.warehouse.counts()["condition_occurrence"] == 1
    write_ndjson(folder / "export-2.ndjson", [patient("p2", fx.INS_CHLOE)])  # the patient comes in a later file
    report = fhir(folder)
    assert any(f.waiting and f.rows_loaded == 1 for f in report.files)  # type: ignore[attr-defined]
    assert installation.warehouse.counts()["condition_occurrence"] == 2
    assert len(quarantined_rows(installation.warehouse)) == 0
    _check_counts(installation)


def test_a_missing_folder_or_a_file_is_refused_in_french(tmp_path: Path) -> None:
    from proxisante.ingest.pivot.load import discover

    with pytest.raises(InputFileError, match="dossier introuvable"):
        discover(tmp_path / "absent")
    (tmp_path / "patients.csv").write_text("patient_id\n")
    with pytest.raises(InputFileError, match="ce n'est pas un dossier"):
        discover(tmp_path / "patients.csv")

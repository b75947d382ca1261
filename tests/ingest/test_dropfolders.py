"""Drop folders (issue 15, item 4): complete extracts only, arrival order, unknown or departed structures
refused, nothing loaded twice, safe to run again after a crash."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

import tests.lib.pivot_fixture as fx
from proxisante.ingest import dropfolders
from proxisante.ingest.dropfolders import (
    ARCHIVE,
    MARKER,
    REJECTS,
    REPORT_JSON,
    REPORT_TEXT,
    deposit,
    depot_root,
    process,
    wait_for_report,
)
from proxisante.installation import Installation, open_installation
from proxisante.network.structures import Structure, StructureRegistry, with_key
from proxisante.settings import Settings

FINESS = with_key("23000001")
OTHER = with_key("23000002")
UNKNOWN = with_key("23000009")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    registry = StructureRegistry.installed(settings)
    for finess, name in ((FINESS, "Centre de santé de Guéret"), (OTHER, "MSP d'Aubusson")):
        registry.add(Structure(finess=finess, name=name, type="CDS", joined=dt.date(2024, 1, 1)), by="test")
    return settings


@pytest.fixture
def installation(settings: Settings):
    opened = open_installation(settings)
    yield opened
    opened.close()


def extract(settings: Settings, finess: str, name: str, *, complete: bool = True, arrived: float | None = None) -> Path:
    """A pivot extract in the drop folder of ``finess``; ``arrived``: the marker's modification time."""
    folder = fx.write(depot_root(settings) / finess / name)
    if complete:
        (folder / MARKER).touch()
        if arrived is not None:
            os.utime(folder / MARKER, (arrived, arrived))
    return folder


def batches(installation: Installation) -> int:
    return int(installation.warehouse.table("etl_batch").count().execute())


def test_an_extract_without_its_marker_waits(settings: Settings, installation: Installation) -> None:
    folder = extract(settings, FINESS, "export-1", complete=False)
    result = process(installation)
    assert result.reports == []
    assert [w.path for w in result.waiting] == [folder]
    assert folder.is_dir() and not (folder / REPORT_JSON).exists()
    assert batches(installation) == 0


def test_a_complete_extract_is_loaded_and_archived_with_its_report(
    settings: Settings, installation: Installation
) -> None:
    extract(settings, FINESS, "export-1")
    [report] = process(installation).reports
    assert report.status == "loaded" and report.batch_id
    assert report.rows_loaded > 0 and report.ignored_files == []  # COMPLET is not an export file
    archived = depot_root(settings) / FINESS / ARCHIVE / "export-1"
    assert report.destination == str(archived)
    assert json.loads((archived / REPORT_JSON).read_text(encoding="utf-8"))["batch_id"] == report.batch_id
    text = (archived / REPORT_TEXT).read_text(encoding="utf-8")
    assert f"Extrait export-1 de la structure {FINESS} : chargé." in text
    assert "Lignes lues" in text
    # the batch belongs to the structure, its source is the FINESS
    manifest = installation.warehouse.execute(installation.warehouse.table("etl_batch"))
    assert set(manifest.source) == {FINESS} and set(manifest.structure) == {FINESS}
    assert process(installation).reports == []  # nothing left


def test_extracts_load_in_order_of_arrival(settings: Settings, installation: Installation) -> None:
    extract(settings, FINESS, "b-first", arrived=1_700_000_000)
    extract(settings, OTHER, "a-third", arrived=1_700_000_200)
    extract(settings, FINESS, "c-second", arrived=1_700_000_100)
    reports = process(installation).reports
    assert [r.extract for r in reports] == ["b-first", "c-second", "a-third"]
    assert [r.status for r in reports] == ["loaded", "nothing_new", "loaded"]  # same files, same FINESS: once


def test_an_unknown_structure_is_refused_with_its_reason(settings: Settings, installation: Installation) -> None:
    extract(settings, UNKNOWN, "export-1")
    [report] = process(installation).reports
    assert report.status == "rejected"
    assert "structure inconnue" in report.reason and UNKNOWN in report.reason
    rejected = depot_root(settings) / UNKNOWN / REJECTS / "export-1"
    assert "structure inconnue" in (rejected / REPORT_TEXT).read_text(encoding="utf-8")
    assert "refusé, rien n'a été chargé" in (rejected / REPORT_TEXT).read_text(encoding="utf-8")
    assert batches(installation) == 0


def test_a_structure_that_left_is_refused(settings: Settings, installation: Installation) -> None:
    StructureRegistry.installed(settings).leave(OTHER, dt.date(2025, 6, 30), by="test")
    extract(settings, OTHER, "export-1")
    [report] = process(installation).reports
    assert report.status == "rejected" and "a quitté le réseau le 30/06/2025" in report.reason
    assert batches(installation) == 0


def test_a_folder_that_is_not_a_finess_is_refused(settings: Settings, installation: Installation) -> None:
    extract(settings, "pas-un-finess", "export-1")
    [report] = process(installation).reports
    assert report.status == "rejected" and "inconnue" in report.reason
    assert (depot_root(settings) / "pas-un-finess" / REJECTS / "export-1" / REPORT_JSON).is_file()


def test_an_unknown_format_and_a_refused_file_go_to_rejets(settings: Settings, installation: Installation) -> None:
    (extract(settings, FINESS, "fmt", arrived=1_700_000_000) / "format.txt").write_text("hl7\n", encoding="utf-8")
    broken = extract(settings, FINESS, "broken", arrived=1_700_000_100)
    (broken / "patients.csv").write_bytes(b"")  # a table file without its header
    fmt, refused = process(installation).reports
    assert fmt.status == "rejected" and "format inconnu" in fmt.reason and "hl7" in fmt.reason
    assert refused.status == "rejected" and "patients" in refused.reason
    assert batches(installation) == 0


def test_the_same_extract_dropped_twice_loads_once(settings: Settings, installation: Installation) -> None:
    extract(settings, FINESS, "export")
    first = process(installation).reports[0]
    extract(settings, FINESS, "export")  # the EHR sends the same files again, under the same name
    [second] = process(installation).reports
    assert first.status == "loaded" and second.status == "nothing_new" and second.batch_id is None
    assert batches(installation) == 1
    archive = depot_root(settings) / FINESS / ARCHIVE
    assert sorted(p.name for p in archive.iterdir()) == ["export", "export-2"]
    assert "déjà chargé" in (archive / "export-2" / REPORT_TEXT).read_text(encoding="utf-8")


def test_a_crash_before_the_move_loads_nothing_twice(settings: Settings, installation: Installation) -> None:
    folder = extract(settings, FINESS, "export")
    [report] = process(installation).reports
    # killed after writing the report, before the move: the move alone is left to do
    shutil.move(report.destination, folder)
    [again] = process(installation).reports
    assert again.batch_id == report.batch_id and again.status == "loaded"
    # killed after the commit, before the report: the batch is idempotent by checksum
    shutil.move(again.destination, folder)
    for name in (REPORT_JSON, REPORT_TEXT):
        (folder / name).unlink()
    [third] = process(installation).reports
    assert third.status == "nothing_new"
    assert batches(installation) == 1


def test_a_write_error_leaves_the_extract_for_the_next_pass(
    settings: Settings, installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = extract(settings, FINESS, "export")
    pivot = dropfolders.FORMATS["pivot"]

    def full_disk(*args: object, **kwargs: object):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(dropfolders.FORMATS, "pivot", type(pivot)(pivot.name, pivot.label, full_disk, pivot.ignored))
    [report] = process(installation).reports
    assert report.status == "retry" and "écriture impossible" in report.reason
    assert folder.is_dir() and not (folder / REPORT_JSON).exists()
    monkeypatch.setitem(dropfolders.FORMATS, "pivot", pivot)
    assert process(installation).reports[0].status == "loaded"


def test_one_pass_at_a_time(settings: Settings, installation: Installation) -> None:
    """Two passes started together (the server's worker and a cron job) never load one extract twice."""
    for number in range(3):
        extract(settings, FINESS, f"export-{number}", arrived=1_700_000_000 + number)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(process(installation))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reports = [r for result in results for r in result.reports]
    assert sorted(r.extract for r in reports) == ["export-0", "export-1", "export-2"]
    assert batches(installation) == 1


def test_deposit_then_wait_for_the_report(settings: Settings, installation: Installation, tmp_path: Path) -> None:
    source = fx.write(tmp_path / "export")
    folder = deposit(settings, source, FINESS)
    assert (folder / MARKER).is_file() and (folder / "format.txt").read_text(encoding="utf-8").strip() == "pivot"
    assert wait_for_report(folder, timeout=0.2, interval=0.05) is None  # nobody processed it yet
    worker = threading.Thread(target=process, args=(installation,))
    worker.start()
    report = wait_for_report(folder, timeout=60, interval=0.05)
    worker.join()
    assert report is not None and report.status == "loaded" and report.extract == folder.name


def test_source_txt_names_one_export_of_the_structure(settings: Settings, installation: Installation) -> None:
    (extract(settings, FINESS, "export") / "source.txt").write_text("laboratoire\n", encoding="utf-8")
    [report] = process(installation).reports
    assert report.status == "loaded" and report.ignored_files == []
    manifest = installation.warehouse.execute(installation.warehouse.table("etl_batch"))
    assert list(manifest.source) == [f"{FINESS}/laboratoire"] and list(manifest.structure) == [FINESS]

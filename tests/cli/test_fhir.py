"""``proxisante synth --format fhir`` and ``proxisante ingest PATH --format fhir`` from the command line:
the generated NDJSON loads whole, a second run loads nothing, a bad line is reported in quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.installation import open_installation
from proxisante.settings import Settings


@pytest.fixture()
def runner(home: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # The console is created at import, before this fixture: widen it itself, so that no cell wraps.
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_synth_fhir_then_ingest_fhir(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "centre"
    output = run(runner, "synth", "--out", str(out), "--patients", "40", "--seed", "3", "--format", "fhir")
    assert "patients" in output
    files = sorted(p.name for p in out.iterdir())
    assert "Patient.ndjson" in files and "Condition.ndjson" in files
    first = json.loads((out / "Patient.ndjson").read_text(encoding="utf-8").splitlines()[0])
    assert first["resourceType"] == "Patient"
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in out.iterdir())

    output = run(runner, "ingest", str(out), "--format", "fhir", "--source", "centre")
    assert "Lot chargé" in output and "Patient.ndjson" in output
    inst = open_installation(Settings())
    try:
        ((read, loaded, bad),) = inst.warehouse.duckdb.execute(
            "SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM etl_manifest"
        ).fetchall()
        assert (read, loaded, bad) == (lines, lines, 0)
        assert inst.warehouse.counts()["person"] == 40
    finally:
        inst.close()

    again = run(runner, "ingest", str(out), "--format", "fhir", "--source", "centre")
    assert "Rien à charger" in again and "déjà chargé" in again


def test_ingest_fhir_reports_the_quarantine(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1965-01-12"}
    text = json.dumps(patient) + '\n{"resourceType": "Patient", "id": "p2"\n'
    (folder / "export.ndjson").write_text(text, encoding="utf-8")
    output = run(runner, "ingest", str(folder), "--format", "fhir")
    assert "export.ndjson" in output and "proxisante quarantine" in output
    quarantine = run(runner, "quarantine")
    assert "JSON invalide" in quarantine


def test_unknown_format_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path), "--format", "fhirr"])
    assert result.exit_code != 0 and "format inconnu" in result.output

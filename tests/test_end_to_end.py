"""From a synthetic centre to a loaded warehouse, through the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.settings import Settings
from tests.lib.privacy import warehouse_leaks

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def clean_centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "centre"
    invoke("synth", "--out", str(out), "--patients", "1500", "--seed", "11")
    return out


@pytest.fixture(scope="module")
def defective_centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "defects"
    invoke("synth", "--out", str(out), "--patients", "1500", "--seed", "12", "--defects")
    return out


def test_synth_ingest_status(home: Path, clean_centre: Path) -> None:
    output = invoke("ingest", str(clean_centre), "--source", "centre")
    assert "Lot chargé" in output
    status = invoke("status")
    assert "person" in status and "1\u202f500" in status and "Derniers lots" in status
    inst = open_installation(Settings())
    try:
        counts = inst.warehouse.counts()
        assert counts["person"] == 1500 and counts["etl_quarantine"] == 0
        for table in (
            "visit_occurrence",
            "condition_occurrence",
            "drug_exposure",
            "measurement",
            "procedure_occurrence",
            "fr_mt_declaration",
            "fr_coverage_period",
            "fr_billed_act",
            "cost",
        ):
            assert counts[table] > 0, table
        assert counts["observation_period"] <= counts["person"]
        # Reloading the same export changes nothing.
        assert "Rien à charger" in invoke("ingest", str(clean_centre), "--source", "centre")
        assert inst.warehouse.counts() == counts
    finally:
        inst.close()


def test_every_injected_defect_and_nothing_else_is_quarantined(home: Path, defective_centre: Path) -> None:
    injected = json.loads((defective_centre / "defects.json").read_text())
    expected = {(d["file"], d["line"]) for d in injected["defects"] if d["line"] is not None}
    assert expected and injected["counts"]["encoding_cp1252"] == 1
    inst = open_installation(Settings())
    try:
        report = load_pivot(defective_centre, inst, source="centre")
        quarantined = set(inst.warehouse.duckdb.execute("SELECT file_name, line FROM etl_quarantine").fetchall())
        assert quarantined == expected
        for f in report.files:
            assert f.rows_read == f.rows_loaded + f.rows_quarantined, f
        assert {f.file_name: f.rows_read for f in report.files} == {
            f"{t}.csv": n for t, n in _physical_rows(defective_centre).items()
        }
    finally:
        inst.close()
    assert "en double" in invoke("status") and "Quarantaine" in invoke("quarantine", "--table", "acts")


def _physical_rows(folder: Path) -> dict[str, int]:
    rows = {}
    for path in folder.glob("*.csv"):
        with path.open("rb") as handle:
            rows[path.stem] = sum(1 for _ in handle) - 1
    return rows


def test_no_identifier_of_the_synthetic_patients_reaches_the_warehouse(home: Path, defective_centre: Path) -> None:
    encoding = "cp1252" if json.loads((defective_centre / "defects.json").read_text())["counts"].get(
        "encoding_cp1252") else "utf-8"  # fmt: skip
    numbers, phones, names = [], [], []
    with (defective_centre / "patients.csv").open(encoding=encoding, newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            numbers += [v for v in (row["ins"], row["nir"]) if v]
            phones.append(row["phone"])
            names += [w for c in ("family_name", "birth_name", "given_names") for w in row[c].split() if len(w) > 2]
            names += [w for w in row["address"].split() if len(w) > 3 and not w.isdigit()][-1:]
    inst = open_installation(Settings())
    try:
        load_pivot(defective_centre, inst, source="centre")
        assert inst.vault.count() > 1400
        assert warehouse_leaks(inst.warehouse.duckdb, numbers, phones, set(names)) == []
    finally:
        inst.close()


def test_measures_gaps_and_patientele_commands(home: Path, clean_centre: Path) -> None:
    """The steering commands on a loaded centre: JSON indicators, pseudonymised then audited nominative
    gaps, and the patientèle; the pseudonymised outputs carry no identifier of the input."""
    invoke("ingest", str(clean_centre), "--source", "centre")
    assert "rosp_diabetes_hba1c" in invoke("measures", "list")
    rows = json.loads(invoke("measures", "run", "--period", "2025", "--format", "json", "--by", "provider"))
    totals = {r["measure_id"]: r for r in rows if r["provider"] == "Total"}
    assert len(totals) >= 25 and totals["rosp_diabetes_hba1c"]["denominator"] > 0
    assert all(r["numerator"] <= r["denominator"] for r in rows)
    protected = json.loads(invoke("measures", "run", "--format", "json", "--protect", "--by", "provider"))
    assert all(r["denominator"] is None or not 1 <= r["denominator"] < 10 for r in protected)

    names = {row["family_name"] for row in csv.DictReader((clean_centre / "patients.csv").open(encoding="utf-8"),
                                                           delimiter=";")}  # fmt: skip
    pseudonymised = invoke("gaps", "--format", "csv")
    assert pseudonymised.count("\n") > 10 and not any(f";{n};" in pseudonymised for n in names)
    bad = runner.invoke(app, ["gaps", "--nominative"])
    assert bad.exit_code != 0 and "--reader" in bad.output
    nominative = invoke("gaps", "--nominative", "--reader", "dr.test", "--format", "csv")
    assert any(n in nominative for n in names)
    inst = open_installation(Settings())
    try:
        log = inst.vault.access_log().to_pandas()
    finally:
        inst.close()
    assert log.reader.tolist() == ["dr.test"] and "liste de travail" in log.purpose[0]
    panel = invoke("patientele")
    assert "Patientèle médecin traitant" in panel and "Diabète" in panel and "Flux" in panel

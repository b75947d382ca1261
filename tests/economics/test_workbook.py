"""The workbook and the chart of a simulation: the sheets a manager needs, the unconfirmed parameters said."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from proxisante.economics.catalogue import catalogue
from proxisante.economics.costs import load_costs
from proxisante.economics.profile_files import EXAMPLE_PROFILE, load_profile
from proxisante.economics.uncertainty import simulate
from proxisante.economics.workbook import SHEET_NAMES, write_chart, write_workbook


@pytest.fixture(scope="module")
def simulation():
    return simulate(load_profile(EXAMPLE_PROFILE), load_costs(), [2025, 2026], draws=300, tornado_model="peps_all")


def test_workbook_has_a_sheet_per_model_and_the_sourced_parameters(simulation, tmp_path: Path) -> None:
    path = tmp_path / "out" / "economie.xlsx"
    write_workbook(simulation, path)
    book = load_workbook(path)
    assert book.sheetnames == ["Synthèse", *SHEET_NAMES.values(), "Sensibilité", "Paramètres", "Profil", "Charges"]
    summary = [row for row in book["Synthèse"].iter_rows(values_only=True) if row[0]]
    assert len([r for r in summary if r[1] in (2025, 2026)]) == 2 * len(SHEET_NAMES)
    text = " ".join(str(r[0]) for r in summary)
    assert "Paramètres non confirmés utilisés" in text and "EXEMPLE" in text
    params = list(book["Paramètres"].iter_rows(values_only=True))[1:]
    assert {r[1] for r in params} == set(catalogue())
    assert {r[5] for r in params} == {"confirmé", "source partielle", "non confirmé"}
    acte = {r[0]: r[1:] for r in book["Acte"].iter_rows(values_only=True) if r[0]}
    assert acte["Résultat"][0] == pytest.approx(float(simulation.results[2025]["acte"].result))
    assert acte["Recettes — Forfait ANCS — points fixes"][0] == pytest.approx(2300 * 7)  # the example's engagements
    profile_rows = [r for r in book["Profil"].iter_rows(values_only=True) if r[0]]
    assert ("engagement ANCS rempli", "nombre") in [r[:2] for r in profile_rows]
    assert ("18172", 4.1, 0.0, "non") in [r[:4] for r in profile_rows]
    text = " ".join(str(r[0]) for r in summary)
    assert "Source — IPEP qualité : score 75" in text and "Source — ANCS : 2300 points fixes" in text


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_chart_is_written(simulation, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"economie{suffix}"
    write_chart(simulation, path)
    head = path.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in head or b"<?xml" in head

"""The cost reader: YAML, CSV and XLSX give the same costs; every refusal is French and names the field; the
costs kept per scope under the data home (the web's) and the CSV template read back as they were written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from proxisante.economics.costs import (
    CostsError,
    costs_csv,
    costs_yaml,
    forget_costs,
    load_costs,
    read_costs,
    store_costs,
    stored_costs,
    stored_path,
)
from proxisante.economics.profile_files import EXAMPLE_PROFILE, load_profile

CSV = """item;profession;label;fte;gross_per_fte;employer_charge_rate;amount
salary;MG;Médecins;;85 000;0,45;
salary;ACCUEIL;Accueil;2;24000;0,42;
premises;;;;;;120000
it;;;;;;30 000,50
"""


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_csv_xlsx_and_yaml_give_the_same_costs(tmp_path: Path) -> None:
    from_csv = read_costs(CSV.encode(), "centre.csv")
    assert [(s.profession, s.gross_per_fte, s.employer_charge_rate, s.fte) for s in from_csv.salaries] == [
        ("MG", 85000.0, 0.45, None),
        ("ACCUEIL", 24000.0, 0.42, 2.0),
    ]
    assert (from_csv.premises, from_csv.it, from_csv.coordination, from_csv.label) == (120000, 30000.5, 0, "centre")
    rows = [line.split(";") for line in CSV.splitlines()]
    from_xlsx = read_costs(_xlsx([[c or None for c in r] for r in rows]), "centre.xlsx")
    assert from_xlsx == from_csv
    path = tmp_path / "centre.yaml"
    path.write_text(costs_yaml(from_csv), encoding="utf-8")
    assert load_costs(path) == from_csv
    again = read_costs(costs_csv(from_csv).encode(), "centre.csv")  # the template reads back as written
    assert again == from_csv


def test_refusals_are_french_and_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(CostsError, match=r"champ salaries\.0\.gross_per_fte \(salaire brut par ETP\) : doit être"):
        read_costs(b"salaries:\n  - {profession: MG, gross_per_fte: -1, employer_charge_rate: 0.4}\n", "c.yaml")
    with pytest.raises(CostsError, match="ligne 3 : champ item : « loyer »"):
        read_costs(b"item;profession;amount\nsalary;MG;\nloyer;;5\n", "c.csv")
    with pytest.raises(CostsError, match="nombre attendu"):
        read_costs(b"item;profession;gross_per_fte;employer_charge_rate\nsalary;MG;beaucoup;0.4\n", "c.csv")
    with pytest.raises(CostsError, match="fichier introuvable"):
        load_costs(tmp_path / "absent.yaml")
    with pytest.raises(CostsError, match=r"attendu \.yaml, \.csv ou \.xlsx"):
        load_costs(tmp_path / "charges.docx")
    with pytest.raises(CostsError, match="classeur Excel illisible"):
        read_costs(b"not a zip", "c.xlsx")
    with pytest.raises(CostsError, match="YAML illisible"):
        read_costs(b"salaries: [\n", "c.yaml")
    profile = load_profile(EXAMPLE_PROFILE)
    only_gp = read_costs(b"item;profession;gross_per_fte;employer_charge_rate\nsalary;MG;80000;0.4\n", "c.csv")
    with pytest.raises(CostsError, match=r"aucune ligne de salaire pour la profession .*IDE"):
        only_gp.by_item(profile)


def test_costs_kept_per_scope_and_never_the_example(tmp_path: Path) -> None:
    costs = read_costs(CSV.encode(), "centre.csv")
    assert stored_costs(tmp_path, "870000002") is None
    path = store_costs(tmp_path, "870000002", costs)
    assert path == stored_path(tmp_path, "870000002") and path.stat().st_mode & 0o077 == 0
    assert stored_costs(tmp_path, "870000002") == costs
    assert stored_costs(tmp_path, "870000003") is None  # another structure keeps its own
    assert stored_path(tmp_path, "../../etc/x").parent == tmp_path / "economics" / "charges"
    with pytest.raises(CostsError, match="EXEMPLE"):
        store_costs(tmp_path, "870000003", load_costs())
    assert forget_costs(tmp_path, "870000002") and stored_costs(tmp_path, "870000002") is None

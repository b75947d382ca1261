"""A tiny, hand-written centre in the pivot format, with valid keys, for the loader's tests."""

from __future__ import annotations

import csv
from pathlib import Path


def nir(body13: str) -> str:
    """A NIR/INS with its key (97 - number mod 97, Corsica's 2A/2B read as 19/18)."""
    digits = body13.replace("2A", "19").replace("2B", "18")
    return body13 + f"{97 - int(digits) % 97:02d}"


def rpps(body10: str) -> str:
    """An RPPS number with its Luhn key."""
    for last in "0123456789":
        candidate = body10 + last
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidate
    raise AssertionError


def cip13(body12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


GP1, GP2, NURSE = rpps("1000000001"), rpps("1000000002"), rpps("1000000003")
NIR_ALICE = nir("2650175056123")
NIR_BRUNO = nir("1480358012045")
INS_CHLOE = nir("2910969123456")
METFORMIN = cip13("340093000001")

TABLES: dict[str, list[dict[str, str]]] = {
    "sites": [{"site_id": "S1", "name": "Centre de santé Victor Hugo", "finess": "750000001",
               "structure_type": "CDS", "commune_insee": "75056", "postcode": "75011"}],
    "professionals": [
        {"rpps": GP1, "family_name": "Martin", "given_name": "Claire", "profession": "MG", "fte": "1",
         "birth_year": "1975", "site_id": "S1", "start_date": "01/01/2015"},
        {"rpps": GP2, "family_name": "Bernard", "given_name": "Paul", "profession": "MG", "fte": "0,8",
         "birth_year": "1962", "site_id": "S1", "start_date": "2018-09-01"},
        {"rpps": NURSE, "family_name": "Petit", "given_name": "Léa", "profession": "IDE", "fte": "1",
         "site_id": "S1", "start_date": "01/03/2019"},
    ],
    "patients": [
        {"patient_id": "P1", "ins": NIR_ALICE, "family_name": "Durand", "given_names": "Alice",
         "birth_date": "12/01/1965", "sex": "F", "address": "3 rue des Lilas", "postcode": "75011",
         "commune_insee": "75056", "phone": "0612345678"},
        {"patient_id": "P2", "nir": NIR_BRUNO, "family_name": "Lefèvre", "given_names": "Bruno",
         "birth_date": "1948-03-02", "sex": "M", "address": "8 avenue Foch", "postcode": "94300",
         "commune_insee": "94080", "phone": "0698765432", "death_date": "15/06/2025"},
        {"patient_id": "P3", "ins": INS_CHLOE, "family_name": "Moreau", "given_names": "Chloé",
         "birth_date": "23/09/1991", "sex": "2", "postcode": "93100", "commune_insee": "93048",
         "phone": "0711223344"},
    ],
    "coverage": [
        {"coverage_id": "C1", "patient_id": "P1", "coverage_type": "ALD", "start_date": "01/02/2020",
         "cim10": "E11.9", "ald_number": "8"},
        {"coverage_id": "C2", "patient_id": "P3", "coverage_type": "C2S", "start_date": "01/01/2024",
         "end_date": "31/12/2024"},
    ],
    "mt_declarations": [
        {"declaration_id": "D1", "patient_id": "P1", "rpps": GP1, "start_date": "01/01/2017"},
        {"declaration_id": "D2", "patient_id": "P2", "rpps": GP2, "start_date": "01/01/2017"},
    ],
    "encounters": [
        {"encounter_id": "E1", "patient_id": "P1", "rpps": GP1, "date": "10/01/2025", "encounter_type": "G",
         "site_id": "S1"},
        {"encounter_id": "E2", "patient_id": "P2", "rpps": GP2, "date": "02/02/2025", "encounter_type": "VG"},
        {"encounter_id": "E3", "patient_id": "P3", "rpps": NURSE, "date": "2025-03-05",
         "encounter_type": "AMI"},
    ],
    "diagnoses": [
        {"diagnosis_id": "DG1", "patient_id": "P1", "encounter_id": "E1", "date": "10/01/2025",
         "cim10": "E119", "rpps": GP1},
    ],
    "prescriptions": [
        {"prescription_id": "RX1", "patient_id": "P1", "encounter_id": "E1", "rpps": GP1,
         "date": "10/01/2025", "cip13": METFORMIN, "atc": "A10BA02", "label": "Metformine 1000 mg",
         "quantity": "3", "duration_days": "90"},
    ],
    "lab_results": [
        {"result_id": "L1", "patient_id": "P1", "date": "05/01/2025", "nabm": "1577", "loinc": "4548-4",
         "value": "7,2", "unit": "%"},
    ],
    "vaccinations": [{"vaccination_id": "V1", "patient_id": "P2", "date": "15/10/2024", "atc": "J07BB02"}],
    "procedures": [{"procedure_id": "PR1", "patient_id": "P1", "date": "20/02/2025", "ccam": "BGQP002"}],
    "acts": [
        {"act_id": "A1", "patient_id": "P1", "rpps": GP1, "date": "10/01/2025", "code": "G",
         "amount": "30,00", "payer": "AMO", "encounter_id": "E1"},
        {"act_id": "A2", "patient_id": "P2", "rpps": GP2, "date": "02/02/2025", "code": "VG",
         "amount": "40,00", "payer": "AMO", "encounter_id": "E2"},
    ],
}  # fmt: skip

IDENTIFIERS = (NIR_ALICE, NIR_BRUNO, INS_CHLOE, "Durand", "Lefèvre", "Moreau", "Alice", "Chloé",
               "0612345678", "0698765432", "0711223344", "rue des Lilas", "avenue Foch")  # fmt: skip


def write(
    folder: Path,
    tables: dict[str, list[dict[str, str]]] | None = None,
    encoding: str = "utf-8",
    delimiter: str = ";",
) -> Path:
    """Write the tables as French-style CSV files (one per table) and return the folder."""
    from proxisante.ingest.pivot.format import TABLES_BY_NAME

    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (tables or TABLES).items():
        columns = TABLES_BY_NAME[name].column_names
        with (folder / f"{name}.csv").open("w", encoding=encoding, newline="") as handle:
            writer = csv.DictWriter(handle, columns, delimiter=delimiter)
            writer.writeheader()
            writer.writerows(rows)
    return folder

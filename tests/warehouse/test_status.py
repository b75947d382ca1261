"""The quarantine as shown: reasons an older version stored in English read in French."""

from __future__ import annotations

from proxisante.installation import Installation
from proxisante.warehouse.status import quarantined_rows, rejects_by_reason

ROWS = [
    (
        "b1",
        "encounters",
        "encounters.csv",
        2,
        "patient_id",
        "unknown patient_id (in neither this batch nor the warehouse)",
    ),
    ("b2", "encounters", "encounters.csv", 3, "patient_id", "patient_id inconnu (ni dans ce lot ni dans l'entrepôt)"),
    ("b1", "acts", "acts.csv", 4, "act_id", "duplicate act_id (first seen at line 2)"),
]


def test_english_reasons_of_an_older_load_read_in_french_and_count_with_their_twin(installation: Installation) -> None:
    con = installation.warehouse.duckdb
    for batch, table, file_name, line, field, reason in ROWS:
        con.execute(
            "INSERT INTO etl_quarantine VALUES (?, 'pivot', ?, ?, ?, ?, ?, NULL, NULL, '750000001')",
            [batch, table, file_name, line, field, reason],
        )
    by_reason = rejects_by_reason(installation.warehouse)
    assert by_reason.to_records(index=False).tolist() == [
        ("encounters", "patient_id", "patient_id inconnu (ni dans ce lot ni dans l'entrepôt)", 2),
        ("acts", "act_id", "act_id en double", 1),
    ]
    shown = quarantined_rows(installation.warehouse, "acts")
    assert shown["reason"].tolist() == ["act_id en double (première occurrence ligne 2)"]

"""The message catalogue: English reasons of older warehouses read in French, pydantic errors in French."""

from __future__ import annotations

import pydantic
import pytest

from proxisante.messages import (
    CODE_REASONS,
    REASONS,
    french_location,
    french_reason,
    french_validation_text,
)


@pytest.mark.parametrize(
    ("english", "french"),
    [
        (
            "unknown patient_id (in neither this batch nor the warehouse)",
            REASONS["reference"].format(field="patient_id"),
        ),
        ("date in the future (after 2026-12-05)", "date dans le futur (après le 2026-12-05)"),
        ("missing required field", "champ obligatoire vide"),
        ("invalid date (dd/mm/yyyy or yyyy-mm-dd expected)", REASONS["date"]),
        ("duplicate act_id (first seen at line 12)", "act_id en double (première occurrence ligne 12)"),
        ("unknown act code (an NGAP key or a CCAM code expected)", CODE_REASONS["act"]),
        ("invalid NIR/INS (15 characters with a valid key expected)", CODE_REASONS["nir"]),
        ("invalid CIM-10 code (e.g. E11.9 expected)", CODE_REASONS["cim10"]),
        ("date before the patient's birth", "date antérieure à la naissance du patient"),
        ("date after the patient's death", "date postérieure au décès du patient"),
        ("unsupported resource type Flag", "type de ressource non pris en charge : Flag"),
        ("above the plausible maximum 300", "au-dessus du maximum plausible 300"),
    ],
)
def test_an_english_reason_of_an_older_warehouse_reads_in_french(english: str, french: str) -> None:
    assert french_reason(english) == french


def test_a_french_reason_passes_unchanged() -> None:
    assert french_reason(CODE_REASONS["rpps"]) == CODE_REASONS["rpps"]
    assert french_reason(None) == ""


class _Form(pydantic.BaseModel):
    limit: int
    start: str = pydantic.Field(pattern=r"^\d{4}-\d{2}$")
    body: str = pydantic.Field(alias="approval_body", default="CNIL")
    k: int = pydantic.Field(ge=2)


def _errors(data: dict[str, object]) -> list[dict[str, object]]:
    with pytest.raises(pydantic.ValidationError) as caught:
        _Form.model_validate(data)
    return [dict(e) for e in caught.value.errors()]


def test_pydantic_errors_read_in_french_naming_the_field() -> None:
    text = french_validation_text(_errors({"limit": "abc", "start": "2020-01-01", "k": 1}))
    assert text == (
        "limit : nombre entier attendu ; start : format attendu : un mois AAAA-MM (par exemple 2025-06) ; "
        "k : doit être supérieur ou égal à 2"
    )


def test_a_missing_field_and_a_request_location() -> None:
    assert french_validation_text(_errors({"start": "2020-01", "k": 3})) == "limit : obligatoire"
    assert french_location(("query", "limit")) == "paramètre limit"
    assert french_location(("body", "approval", "body")) == "champ approval.body"
    assert french_location(("tables", 2)) == "tables[2]"


def test_a_literal_lists_its_values_with_ou() -> None:
    error = {"type": "literal_error", "loc": ("body",), "ctx": {"expected": "'CNIL', 'CESREES' or 'comité'"}}
    assert french_validation_text([error]) == "body : valeur attendue : 'CNIL', 'CESREES' ou 'comité'"


def test_the_project_own_value_error_keeps_its_french_text() -> None:
    error = {"type": "value_error", "loc": ("period",), "ctx": {"error": ValueError("début après la fin")}}
    assert french_validation_text([error]) == "period : début après la fin"


def test_a_choice_pattern_reads_as_its_values() -> None:
    error = {"type": "string_pattern_mismatch", "loc": ("query", "tri"), "ctx": {"pattern": "^(nom|age)?$"}}
    assert french_validation_text([error]) == "paramètre tri : valeur attendue : nom ou age"

"""A département as typed (issue 21 item 9): INSEE spelling, Corsica's hint, a code no commune has named."""

from __future__ import annotations

import pandas as pd
import pytest

from proxisante.territory.departements import DepartementError, departement_code, departement_label, departement_mask

COMMUNES = pd.DataFrame(
    {
        "code": ["2A004", "23096", "97411"],
        "departement": ["2A", "23", "974"],
        "departement_name": ["Corse-du-Sud", "Creuse", "La Réunion"],
    }
)


@pytest.mark.parametrize(("typed", "code"), [("2a", "2A"), (" 2B ", "2B"), ("1", "01"), ("974", "974"), ("23", "23")])
def test_codes_as_insee_writes_them(typed: str, code: str) -> None:
    assert departement_code(typed) == code


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("20", "le département 20 n'existe plus depuis 1976 : utilisez 2A (Corse-du-Sud) ou 2B (Haute-Corse)"),
        ("2C", "code de département « 2C » non reconnu : attendu 01 à 95, 2A, 2B ou 971 à 976"),
        ("2A1", "code de département « 2A1 » non reconnu"),
    ],
)
def test_wrong_codes_are_refused_in_french(typed: str, message: str) -> None:
    with pytest.raises(DepartementError) as error:
        departement_code(typed)
    assert str(error.value).startswith(message)


def test_mask_and_label() -> None:
    code, mask = departement_mask(COMMUNES, "2a")
    assert code == "2A" and mask.tolist() == [True, False, False]
    assert departement_label(COMMUNES, code) == "Corse-du-Sud (2A)"
    with pytest.raises(DepartementError) as error:
        departement_mask(COMMUNES, "99")
    assert str(error.value) == (
        "aucune commune du référentiel pour le département 99 (départements du référentiel : 23, 2A, 974)"
    )

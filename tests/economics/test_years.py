"""The years of a simulation as the command line and the web form take them: one parser, French refusals."""

from __future__ import annotations

import pytest

from proxisante.economics.years import YearsError, parse_years


@pytest.mark.parametrize(
    ("text", "years"),
    [("", []), (None, []), ("2025", [2025]), ("2025-2027", [2025, 2026, 2027]), (" 2026, 2024 ,2026", [2024, 2026]),
     ("2025–2026", [2025, 2026])],
)  # fmt: skip
def test_the_command_s_syntax(text, years) -> None:
    assert parse_years(text) == years


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-20x7", "attendu 2025, 2024-2027 ou 2024,2026"),
        ("2027-2025", "la fin précède le début"),
        ("vingt", "attendu 2025"),
        ("1990", "de 2020 à 2040 seulement"),
        ("2020-2035", "10 années au plus"),
    ],
)
def test_refusals_are_french(text, message) -> None:
    with pytest.raises(YearsError, match=message):
        parse_years(text)

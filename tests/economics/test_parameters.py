"""The parameter catalogue: dated values read by date, every entry sourced, the documentation in sync."""

from __future__ import annotations

import datetime as dt

import pytest

from proxisante.economics.catalogue import Parameter, catalogue, markdown_table, parameter, tariff_of_code
from tests.lib.paths import DOCS

DOCS = DOCS
BEGIN, END = "<!-- parameters: begin -->", "<!-- parameters: end -->"


def test_g_tariff_before_and_after_2024_12_22() -> None:
    g = parameter("tariffs.G")
    assert g.at(dt.date(2023, 10, 31)) == 25.0
    assert g.at(dt.date(2024, 12, 21)) == 26.5
    assert g.at(dt.date(2024, 12, 22)) == 30.0
    # 2024: 356 days at 26.50 € and 10 days at 30 € (leap year).
    assert g.average(2024) == pytest.approx((356 * 26.5 + 10 * 30.0) / 366)
    assert g.average(2025) == 30.0
    # Teleconsultation stays 26.50 €.
    assert parameter("tariffs.TCG").at(dt.date(2025, 6, 1)) == 26.5


def test_fpmt_ends_when_the_fmt_starts() -> None:
    fpmt = parameter("fpmt.per_patient")
    assert fpmt.average(2023)["elderly_or_ald"] == 42.0
    assert fpmt.average(2024)["elderly_or_ald"] == 46.0
    assert fpmt.average(2026) is None
    assert parameter("fmt.socle").at(dt.date(2026, 1, 1))["ald_80_plus"] == 100.0


def test_every_entry_is_sourced_and_uncertain_ones_have_a_range() -> None:
    entries = catalogue()
    assert len(entries) > 40
    for name, p in entries.items():
        assert p.name == name and p.source and p.confidence in "CPU"
    # Every working value that is a number has a range for the uncertainty analysis.
    for p in entries.values():
        numbers = all(isinstance(v, int | float) or v is None for _, v in p.values)
        if p.unconfirmed and numbers and not p.name.endswith(("_bands", "_professions")):
            assert p.uncertain, p.name


def test_every_tariff_code_is_a_known_act_code() -> None:
    from proxisante.vocab import codes

    known = codes("ngap") | codes("ccam")
    assert set(tariff_of_code()) <= known


def test_bad_entries_are_refused() -> None:
    base = {"label": "abc", "unit": "€", "source": "somewhere", "confidence": "C"}
    with pytest.raises(ValueError, match="strictly increasing"):
        Parameter.model_validate({**base, "values": [["2025-01-01", 1], ["2024-01-01", 2]]})
    with pytest.raises(ValueError, match="confidence"):
        Parameter.model_validate({**base, "values": [["2025-01-01", 1]], "confidence": "X"})
    with pytest.raises(ValueError, match="range_relative"):
        Parameter.model_validate({**base, "values": [["2025-01-01", {"a": 1}]], "range": [0, 1]})


def test_parameters_page_lists_the_catalogue() -> None:
    text = (DOCS / "parameters.md").read_text(encoding="utf-8")
    section = text.split(BEGIN)[1].split(END)[0].strip()
    assert section == markdown_table(), "regenerate with: python -m proxisante.economics.catalogue"

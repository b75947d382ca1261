"""Periods (issue 21 item 2): a quarter or a month is each measure's natural window ending with it, the
explicit ``12M:`` keeps its 12 months, impossible days are refused in French, and the last data of a
warehouse (or of a scope) says which periods can be computed."""

from __future__ import annotations

import datetime as dt

import pytest

from proxisante.measures.definition import Window, measure
from proxisante.measures.periods import (
    NoData,
    Period,
    PeriodError,
    data_coverage,
    last_data_date,
    month_period,
    no_data_message,
    parse_day,
    parse_period,
    previous,
    require_data,
)
from proxisante.measures.results import run
from proxisante.network.scope import Scope, ScopedTables
from tests.lib.network import LoadedNetwork

HBA1C = measure("rosp_diabetes_hba1c")


def test_forms_and_spans() -> None:
    assert parse_period("2025").start == dt.date(2025, 1, 1)
    third = parse_period("2025q3")
    assert (third.label, third.start, third.end) == ("2025-T3", dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    june = parse_period("2024-2")
    assert (june.label, june.start, june.end) == ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    french = parse_period("12M:30/06/2025")
    assert (french.label, french.start, french.end) == ("12M:2025-06-30", dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    assert month_period(dt.date(2025, 12, 5)) == parse_period("2025-12")


def test_a_quarter_is_the_measures_window_ending_with_it() -> None:
    third = parse_period("2025-T3")
    assert third.window_for(HBA1C) == Window(months=12) == HBA1C.window
    assert third.describe([HBA1C]) == "2025-T3 : 12 mois jusqu'au 30/09/2025"
    two_years = HBA1C.model_copy(update={"window": Window(years=2)})
    assert third.window_for(two_years) == Window(years=2)
    assert parse_period("12M:2025-09-30").window_for(two_years) == Window(months=12)  # explicit: kept


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12M:2025-02-30", "date '2025-02-30' impossible : le mois 02/2025 a 28 jours"),
        ("12M:31/04/2025", "date '31/04/2025' impossible : le mois 04/2025 a 30 jours"),
        ("2025-13", "période '2025-13' : le mois 13 n'existe pas (attendu 01 à 12)"),
        ("T3-2025", "période 'T3-2025' non reconnue : attendu 2025, 2025-T3, 2025-06 ou 12M:2025-06-30"),
        ("3025", "période '3025' hors des années 1900 à 2100"),
    ],
)
def test_wrong_periods_are_named_in_french(text: str, message: str) -> None:
    with pytest.raises(PeriodError) as error:
        parse_period(text)
    assert str(error.value) == message


def test_days() -> None:
    assert parse_day("31/12/2025") == parse_day("2025-12-31") == dt.date(2025, 12, 31)
    assert parse_day("1/2/2024") == dt.date(2024, 2, 1)
    with pytest.raises(PeriodError, match="impossible : le mois 02/2025 a 28 jours"):
        parse_day("29/02/2025")
    with pytest.raises(PeriodError, match="attendu AAAA-MM-JJ ou JJ/MM/AAAA"):
        parse_day("12/31/2025x")


def test_coverage() -> None:
    last = dt.date(2026, 6, 30)
    assert data_coverage(parse_period("2025"), last) == "full"
    assert data_coverage(parse_period("2026"), last) == "partial"
    assert data_coverage(parse_period("2026-T3"), last) == "none"
    assert data_coverage(parse_period("2025"), None) == "none"
    with pytest.raises(NoData) as error:
        require_data(parse_period("2030"), last)
    assert str(error.value) == "pas de données sur cette période (données jusqu'au 30/06/2026)"
    assert no_data_message(None, "à cette date").startswith("pas de données à cette date (l'entrepôt")


def test_last_data_of_a_warehouse_and_of_a_scope(network: LoadedNetwork) -> None:
    installation = network.open()
    try:
        whole = last_data_date(installation.warehouse)
        visits = installation.warehouse.table("visit_occurrence")
        last_visit = installation.warehouse.execute(visits.visit_start_date.max())
        assert whole is not None and whole >= dt.date.fromisoformat(str(last_visit)[:10])
        each = [last_data_date(ScopedTables(installation.warehouse, Scope.of([f]))) for f in network.finess]
        assert max(d for d in each if d is not None) == whole
        assert last_data_date(installation.warehouse, today=dt.date(1950, 1, 1)) is None  # nothing dated before
    finally:
        installation.close()


def test_quarter_results_equal_the_12_months_ending_with_it(network: LoadedNetwork) -> None:
    installation = network.open()
    try:
        chosen = [HBA1C, measure("rosp_flu_65")]
        quarter = run(installation.warehouse, parse_period("2025-T3"), chosen).table
        rolling = run(installation.warehouse, parse_period("12M:2025-09-30"), chosen).table
        columns = ["measure_id", "denominator", "numerator", "rate"]
        assert quarter[columns].equals(rolling[columns])
        assert quarter.numerator.sum() > 0
        third = parse_period("2025-T3")
        three_months = Period(third.label, third.start, third.end, explicit=Window(months=3))  # the old reading
        short = run(installation.warehouse, three_months, [HBA1C]).table
        assert short.numerator.iloc[0] < quarter.numerator.iloc[0]  # two HbA1c in a quarter: rare
    finally:
        installation.close()


@pytest.mark.parametrize(
    ("text", "before"),
    [("2025", "2024"), ("2025-T1", "2024-T4"), ("2025-T3", "2025-T2"), ("2025-01", "2024-12"),
     ("12M:2025-06-30", "12M:2024-06-30")],
)  # fmt: skip
def test_previous(text: str, before: str) -> None:
    assert previous(parse_period(text)) == parse_period(before)

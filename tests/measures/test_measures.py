"""The measure engine itself: the format refuses bad files by name, periods, intervals, margins, care
gaps and their due dates, the audited nominative list, prevention plans, the library as a whole."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest

from proxisante.definitions import DefinitionError
from proxisante.identity.vault import IdentityVault
from proxisante.measures.definition import Window, library, measure, minus, parse_measure
from proxisante.measures.gaps import care_gaps, nominative
from proxisante.measures.periods import PeriodError, month_ends, parse_period
from proxisante.measures.prevention import calendar, prevention_plan
from proxisante.measures.results import byar, run, series, wilson
from proxisante.vocab.valuesets import parse_value_set, value_sets
from tests.lib.measure_fixture import Centre

GOOD = """
id: {id}
label: Test
short_label: Test
group: chronic
source: {{text: "a source", date: 2020-01-01}}
numerator:
  - {{lab: hba1c, min_count: 2}}
action: Faire le test
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_definition_parses(tmp_path: Path) -> None:
    m = parse_measure(write(tmp_path, "ok", GOOD.format(id="ok")))
    assert m.numerator[0].min_count == 2 and m.population == "patientele_mt"


@pytest.mark.parametrize(
    ("replace", "by", "field"),
    [
        ("lab: hba1c", "lab: hba1c_typo", "numerator.0"),
        ("group: chronic", "group: chronique", "group"),
        ("min_count: 2", "min_count: 0", "numerator.0.min_count"),
        ("{lab: hba1c, min_count: 2}", "{lab: hba1c, drug: antidiabetics}", "numerator.0"),
        ("action: Faire le test", "actions: Faire le test", "actions"),
        ('source: {text: "a source", date: 2020-01-01}', 'source: {text: "a source", date: someday}', "source.date"),
    ],
)
def test_invalid_definitions_name_file_and_field(tmp_path: Path, replace: str, by: str, field: str) -> None:
    text = GOOD.format(id="bad").replace(replace, by)
    assert text != GOOD.format(id="bad")
    path = write(tmp_path, "bad", text)
    with pytest.raises(DefinitionError) as error:
        parse_measure(path)
    assert str(path) in str(error.value) and f"field {field}" in str(error.value)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="differs from the file name"):
        parse_measure(write(tmp_path, "other", GOOD.format(id="ok")))


def test_value_set_unknown_vocabulary_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "vs", 'id: vs\nlabel: x\nsource: {text: abc, date: 2020-01-01}\ncodes: {ICD9: ["250"]}\n')
    with pytest.raises(DefinitionError, match="field codes"):
        parse_value_set(path)


def test_value_set_matching_is_hierarchical_for_cim10_and_atc_only() -> None:
    vs = value_sets()["antidiabetics"]
    assert vs.matches("ATC", "A10BA02") and not vs.matches("ATC", "C10AA05")
    hba1c = value_sets()["hba1c"]
    assert hba1c.matches("NABM", "1577") and not hba1c.matches("NABM", "15770")


def test_library_has_sources_and_actions() -> None:
    for m in library().values():
        assert m.source.text and m.action and m.short_label, m.id


def test_periods() -> None:
    assert parse_period("2025").start == dt.date(2025, 1, 1)
    q = parse_period("2025-T3")
    assert (q.start, q.end, q.label) == (dt.date(2025, 7, 1), dt.date(2025, 9, 30), "2025-T3")
    assert parse_period("2024q1").end == dt.date(2024, 3, 31)
    r = parse_period("12M:2024-02-29")
    assert (r.start, r.end) == (dt.date(2023, 3, 1), dt.date(2024, 2, 29))
    with pytest.raises(PeriodError, match="non reconnue"):
        parse_period("l'an dernier")
    assert month_ends(dt.date(2024, 11, 5), dt.date(2025, 2, 1)) == [
        dt.date(2024, 11, 30), dt.date(2024, 12, 31), dt.date(2025, 1, 31), dt.date(2025, 2, 28)
    ]  # fmt: skip


def test_windows_and_calendar_subtraction() -> None:
    assert minus(dt.date(2024, 2, 29), years=1) == dt.date(2023, 2, 28)
    assert Window(months=12).start(dt.date(2025, 12, 31)) == dt.date(2025, 1, 1)
    assert Window(years=2).start(dt.date(2025, 6, 30)) == dt.date(2023, 7, 1)


def test_wilson_and_byar_intervals() -> None:
    low, high = wilson(20, 38, 1.959963984540054)
    assert (round(low, 4), round(high, 4)) == (0.3726, 0.6752)  # Wilson, 95 %: [37.26 %, 67.52 %]
    assert wilson(0, 10, 1.96)[0] == 0 and wilson(10, 10, 1.96)[1] == 1
    assert all(math.isnan(v) for v in wilson(0, 0, 1.96))
    low, high = byar(10, 100, 1.959963984540054)
    assert (round(low, 2), round(high, 2)) == (4.79, 18.39)  # exact Poisson 4.80-18.39 per 100


def diabetics() -> Centre:
    c = Centre()
    day = "2025-01-10"
    c.patient("a", "1950-01-01", drugs=[("A10BA02", day)], labs=[("1577", "2025-02-01"), ("1577", "2025-08-01")])
    c.patient("b", "1950-01-01", sex="M", drugs=[("A10BA02", day)], labs=[("1577", "2025-03-01")])
    c.patient("c", "1960-01-01", drugs=[("A10BA02", day)])
    c.patient(
        "d",
        "1960-01-01",
        sex="M",
        mt=2,
        drugs=[("A10BA02", day)],
        labs=[("1577", "2025-02-01"), ("1577", "2025-09-01")],
    )
    c.patient(
        "e", "1980-01-01", c2s=True, drugs=[("A10BA02", day)], labs=[("1577", "2025-02-01"), ("1577", "2025-04-01")]
    )
    c.patient("f", "1990-01-01")
    return c


def test_results_per_provider_and_stratifier_add_up() -> None:
    warehouse = diabetics().warehouse()
    hba1c = measure("rosp_diabetes_hba1c")
    result = run(warehouse, parse_period("2025"), [hba1c], by=["provider"], stratify=True).table
    overall = result[(result.stratifier == "") & (result.provider == "Total")].iloc[0]
    assert (overall.initial_population, overall.denominator, overall.numerator) == (6, 5, 3)
    assert overall.rate == pytest.approx(0.6)
    per_provider = result[(result.stratifier == "") & (result.provider != "Total")].set_index("provider")
    assert per_provider.loc["10000000001", "numerator"] == 2 and per_provider.loc["10000000002", "numerator"] == 1
    by_sex = result[(result.stratifier == "sex") & (result.provider == "Total")].set_index("stratum")
    assert by_sex.loc["F", "denominator"] == 3 and by_sex.loc["M", "denominator"] == 2
    by_c2s = result[(result.stratifier == "c2s") & (result.provider == "Total")].set_index("stratum")
    assert by_c2s.loc["True", "numerator"] == 1
    assert not overall.reportable or overall.objective == "sous l'objectif"


def test_monthly_series_is_rolling() -> None:
    warehouse = diabetics().warehouse()
    frame = series(warehouse, measure("rosp_diabetes_hba1c"), dt.date(2025, 1, 1), dt.date(2025, 12, 1))
    assert len(frame) == 12
    # "e" has her second HbA1c in April, "a" in August, "d" in September.
    assert frame.numerator.tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 3, 3, 3, 3]


def test_care_gaps_with_due_dates() -> None:
    centre = diabetics()
    gaps = care_gaps(centre.warehouse(), parse_period("2025"), [measure("rosp_diabetes_hba1c")])
    assert centre.names(gaps.person_id) == {"b", "c"}
    due = {centre.names([p]).pop(): d for p, d in zip(gaps.person_id, gaps.due_since, strict=True)}
    assert due["b"] == dt.date(2025, 3, 1) + dt.timedelta(days=365 // 2)
    assert due["c"] == dt.date(2025, 1, 1)  # never done: due since the 12-month window opened, never empty
    only_b = care_gaps(centre.warehouse(), parse_period("2025"), provider_rpps="10000000001")
    assert {"b", "c"} <= centre.names(only_b.person_id)
    assert "d" not in centre.names(only_b.person_id)


def test_nominative_list_is_audited(tmp_path: Path) -> None:
    import pyarrow as pa

    centre = diabetics()
    gaps = care_gaps(centre.warehouse(), parse_period("2025"), [measure("rosp_diabetes_hba1c")])
    vault = IdentityVault(tmp_path / "vault.duckdb")
    ids = sorted(int(p) for p in gaps.person_id)
    rows = {"person_id": ids, "family_name": ["Martin", "Durand"], "given_names": ["Anne", "Paul"]}
    vault.store("ehr", pa.table({**rows, **{c: [None, None] for c in ("ins", "nir", "birth_name", "birth_date",
                "address", "postcode", "commune_insee", "phone")}, "patient_id": ["p1", "p2"]}))  # fmt: skip
    named = nominative(gaps, vault, reader="dr.martin", list_name="écarts 2025")
    assert set(named.family_name) == {"Martin", "Durand"}
    log = vault.access_log().to_pandas()
    assert log.reader.tolist() == ["dr.martin"] and "écarts 2025" in log.purpose[0]
    assert sorted(log.person_ids[0]) == ids


def test_prevention_plan_by_age() -> None:
    c = Centre()
    c.patient("young", "2003-06-01", visits=[("RDV", "2025-03-01")])
    c.patient("forty_seven", "1978-06-01")
    c.patient("thirty", "1995-06-01")
    warehouse = c.warehouse()
    plan = prevention_plan(warehouse, parse_period("2025"), [c.person_id(n) for n in c.patients])
    items = {(c.names([p]).pop(), i): s for p, i, s in zip(plan.person_id, plan.item_id, plan.status, strict=True)}
    assert items[("young", "bilan_prevention_18_25")] == "fait"
    assert items[("forty_seven", "bilan_prevention_45_50")] == "à faire"
    assert not any(name == "thirty" and item.startswith("bilan") for name, item in items)
    assert calendar().items


def test_every_library_measure_runs_on_the_fixture() -> None:
    frame = run(diabetics().warehouse(), parse_period("2025")).table
    assert set(frame.measure_id) == set(library())
    assert isinstance(frame, pd.DataFrame) and (frame.numerator <= frame.denominator).all()


def test_protected_run_has_no_small_cell() -> None:
    from proxisante.disclosure import measure_violations
    from proxisante.measures.results import protect

    c = diabetics()
    for number in range(20):
        c.patient(f"y{number}", "1970-01-01", mt=1 + number % 2)
    for number in range(80):  # enough diabetics for some cells to stay visible
        c.patient(f"x{number}", f"19{40 + number % 30}-01-01", mt=1 + number % 2, drugs=[("A10BA02", "2025-01-10")],
                  labs=[("1577", "2025-02-01"), ("1577", "2025-09-01")] if number % 3 else [])  # fmt: skip
    frame = run(c.warehouse(), parse_period("2025"), [measure("rosp_diabetes_hba1c")], by=["provider"], stratify=True)
    protected = protect(frame.table, by=["provider"], threshold=10)
    assert (protected.suppressed != "").any() and (protected.suppressed == "").any()
    visible = protected[protected.suppressed == ""]
    for column in ("denominator", "numerator"):
        assert not visible[column].between(1, 9).any()
    for stratifier in ("", "sex", "age_band"):
        block = protected[(protected.stratifier == stratifier) | (protected.stratifier == "")]
        block = block.assign(stratum=block.stratum.fillna("Total"))
        counts = block[["provider", "stratum", "initial_population", "denominator", "exclusions", "numerator",
                        "rate", "ci_low", "ci_high"]]  # fmt: skip
        assert measure_violations(counts, ["provider", "stratum"], threshold=10) == []


def test_due_date_of_a_one_event_measure_comes_from_the_last_event_before_the_window() -> None:
    c = Centre()
    c.patient("screened_2023", "1960-06-01", procedures=[("QEQK004", "2023-03-01")])
    c.patient("never", "1960-06-01")
    c.patient("screened_2024", "1960-06-01", procedures=[("QEQK004", "2024-06-15")])
    gaps = care_gaps(c.warehouse(), parse_period("2025"), [measure("rosp_breast_screening")])
    due = {c.names([p]).pop(): d for p, d in zip(gaps.person_id, gaps.due_since, strict=True)}
    assert due == {"screened_2023": dt.date(2025, 3, 1), "never": dt.date(2024, 1, 1)}  # the 2-year window's start
    plan = prevention_plan(c.warehouse(), parse_period("2025"), [c.person_id(n) for n in c.patients])
    breast = plan[plan.item_id == "breast_screening"].set_index("person_id")
    assert breast.loc[c.person_id("screened_2024"), "status"] == "fait"
    assert breast.loc[c.person_id("screened_2024"), "next_due"] == dt.date(2026, 6, 15)
    assert breast.loc[c.person_id("screened_2023"), "status"] == "à faire"

"""The work list (issue 21 item 1): one row per patient with every open action of the actionable
indicators, dates never empty nor after the period, "fait le" for a gap closed since, filters, search,
sorting, paging, French export; and the date of the last data."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from proxisante.measures.definition import library, measure
from proxisante.measures.gaps import actionable_measures, care_gaps, closed_since
from proxisante.measures.periods import parse_period
from proxisante.population import worklist
from tests.lib.measure_fixture import Centre

HBA1C, RENAL = "rosp_diabetes_hba1c", "rosp_diabetes_renal"


def centre() -> Centre:
    c = Centre()
    metformin = [("A10BA02", "2025-01-10")]
    # one HbA1c late in 2025: the second is due on 2026-04-18, after the period: due since 31/12/2025
    c.patient("late", "1950-01-01", drugs=metformin, labs=[("1577", "2025-10-18")])
    c.patient("never", "1960-01-01", drugs=metformin)
    # a gap in 2025 closed in 2026 by two HbA1c
    c.patient("closed", "1955-01-01", drugs=[*metformin, ("A10BA02", "2026-01-10")],
              labs=[("1577", "2026-01-15"), ("1577", "2026-03-02")])  # fmt: skip
    c.patient("other_mt", "1970-01-01", mt=2, drugs=metformin)
    c.patient("healthy", "1990-01-01", visits=[("G", "2026-03-31")])
    return c


def test_antibiotic_prescribing_is_not_actionable() -> None:
    chosen = {m.id for m in actionable_measures()}
    assert {"rosp_antibiotics_per_100", "rosp_antibiotics_resistance"}.isdisjoint(chosen)
    assert HBA1C in chosen and "rosp_flu_65" in chosen
    assert len(chosen) == len(library()) - 3


def test_due_date_never_empty_nor_after_the_period() -> None:
    c = centre()
    year = parse_period("2025")
    gaps = care_gaps(c.warehouse(), year, [measure(HBA1C)])
    due = {c.names([p]).pop(): d for p, d in zip(gaps.person_id, gaps.due_since, strict=True)}
    assert due["late"] == dt.date(2025, 12, 31)  # 2025-10-18 + 6 months is after the period: capped
    assert due["never"] == dt.date(2025, 1, 1)  # never done: since the 12-month window opened
    assert all(d is not None and d <= year.end for d in gaps.due_since)


def test_one_row_per_patient_with_all_actions_and_done_since() -> None:
    c = centre()
    warehouse, year = c.warehouse(), parse_period("2025")
    gaps = care_gaps(warehouse, year, [measure(HBA1C), measure(RENAL)])
    done = closed_since(warehouse, gaps, year, dt.date(2026, 3, 31))
    closed = {(m, c.names([p]).pop()): d for m, p, d in zip(gaps.measure_id, gaps.person_id, done, strict=True)}
    assert closed[(HBA1C, "closed")] == dt.date(2026, 3, 2)
    assert closed[(HBA1C, "never")] is None and closed[(RENAL, "closed")] is None
    rows = worklist.work_list(gaps, year.end, {c.person_id("never"): "élevé"}, done)
    assert rows.person_id.is_unique and len(rows) == gaps.person_id.nunique() == 4
    by_name = {c.names([p]).pop(): r for p, r in zip(rows.person_id, rows.itertuples(), strict=True)}
    assert by_name["never"].n_actions == 2 and set(by_name["never"].measure_ids) == {HBA1C, RENAL}
    assert by_name["never"].risk_level == "élevé" and by_name["late"].risk_level == ""
    assert by_name["closed"].n_actions == 1 and by_name["closed"].measure_ids == (RENAL,)
    assert [i.done_since for i in by_name["closed"].items if i.measure_id == HBA1C] == [dt.date(2026, 3, 2)]
    assert by_name["never"].urgency == worklist.OVERDUE  # due since 01/01/2025, read on 31/12/2025
    assert by_name["late"].due_since == dt.date(2025, 1, 1)  # the renal test, never done, comes first
    assert rows.due_since.tolist() == sorted(rows.due_since.tolist())  # most urgent first


def test_urgency_partitions_by_the_reference_month() -> None:
    day = dt.date(2026, 6, 30)
    assert worklist.urgency(dt.date(2026, 6, 1), day) == worklist.THIS_MONTH
    assert worklist.urgency(dt.date(2026, 5, 31), day) == worklist.OVERDUE
    assert worklist.urgency(None, day) == worklist.DONE


def _named() -> pd.DataFrame:
    c = centre()
    year = parse_period("2025")
    rows = worklist.work_list(care_gaps(c.warehouse(), year, [measure(HBA1C), measure(RENAL)]), year.end)
    names = {c.person_id("late"): ("Hélène", "Martin"), c.person_id("never"): ("Paul", "Durand"),
             c.person_id("closed"): ("Zoé", "Émery"), c.person_id("other_mt"): ("Anne", "Martineau")}  # fmt: skip
    return rows.assign(
        given_names=rows.person_id.map(lambda p: names[p][0]),
        family_name=rows.person_id.map(lambda p: names[p][1]),
        birth_date=[dt.date(1950, 1, 1), None, pd.NaT, dt.date(1970, 1, 1)],
        phone=[None, "0601020304", float("nan"), pd.NA],
    )


def test_search_sort_page_and_filters() -> None:
    named = _named()
    assert set(worklist.search(named, "helene").family_name) == {"Martin"}  # accents and case aside
    assert set(worklist.search(named, "MARTIN").family_name) == {"Martin", "Martineau"}
    assert set(worklist.search(named, "emery zo").family_name) == {"Émery"}
    assert worklist.order(named, "nom").family_name.tolist() == ["Durand", "Émery", "Martin", "Martineau"]
    assert worklist.order(named, "age", descending=True).age.tolist() == sorted(named.age, reverse=True)
    first, pages = worklist.page(worklist.order(named, "nom"), 2, 3)
    assert pages == 2 and first.family_name.tolist() == ["Martineau"]
    assert worklist.page(named, 99, 3)[0].equals(worklist.page(named, 2, 3)[0])  # clamped to the last
    assert set(worklist.select(named, measure_id=RENAL).family_name) == set(named.family_name)
    assert len(worklist.select(named, age_band="nope")) == 0
    with pytest.raises(ValueError, match="tri inconnu"):
        worklist.order(named, "pointure")


def test_export_is_french_and_never_nan() -> None:
    out = worklist.export_frame(_named(), {"10000000001": "Dr Un"})
    assert list(out.columns)[:4] == ["nom", "prénoms", "né(e) le", "téléphone"]
    cells = out.astype("string").fillna("").to_numpy().ravel().tolist()
    assert not [c for c in cells if "nan" in c.lower() or "<na>" in c.lower() or c.lower() == "nat"]
    assert "01/01/1950" in set(out["né(e) le"]) and "Dr Un" in set(out["médecin traitant"])
    assert out["à faire depuis"].str.match(r"^\d{2}/\d{2}/\d{4}$").all()
    assert out.actions.str.contains("depuis le").all()


def test_data_end_is_the_last_event_never_after_today() -> None:
    warehouse = centre().warehouse()
    assert worklist.data_end(warehouse, today=dt.date(2026, 12, 5)) == dt.date(2026, 3, 31)
    assert worklist.data_end(warehouse, today=dt.date(2026, 3, 1)) == dt.date(2026, 1, 15)
    assert worklist.default_period(warehouse, today=dt.date(2026, 12, 5)).label == "12M:2026-03-31"


def test_without_mt_lists_the_patients_seen_without_one() -> None:
    c = centre()
    c.patient("no_mt", "1950-01-01", mt=None, drugs=[("A10BA02", "2025-03-01")], visits=[("G", "2025-03-01")])
    gaps = care_gaps(c.warehouse(), parse_period("2025"), [measure(HBA1C)], without_mt=True)
    assert c.names(gaps.person_id) == {"no_mt"}
    assert gaps.mt_rpps.isna().all()


def test_two_indicators_asking_the_same_action_are_one_item() -> None:
    vaccine = measure("vax_pneumo_65").action
    assert measure("fmt_pneumo_at_risk").action == vaccine  # the library asks the same vaccine twice
    gaps = pd.DataFrame(
        {
            "measure_id": ["vax_pneumo_65", "fmt_pneumo_at_risk", HBA1C],
            "person_id": [7, 7, 7],
            "mt_rpps": ["10000000001"] * 3,
            "care_site_id": [1, 1, 1],
            "age": [70] * 3,
            "age_band": ["65-74"] * 3,
            "sex": ["F"] * 3,
            "action": [vaccine, vaccine, measure(HBA1C).action],
            "evidence_date": [None] * 3,
            "due_since": [dt.date(2025, 1, 1), dt.date(2024, 1, 1), dt.date(2025, 6, 1)],
        }
    )
    (row,) = worklist.work_list(gaps, dt.date(2025, 12, 31)).itertuples()
    assert row.n_actions == 2 and [i.action for i in row.items] == [vaccine, measure(HBA1C).action]
    assert row.items[0].due_since == dt.date(2024, 1, 1)  # the older date
    assert set(row.measure_ids) == {"vax_pneumo_65", "fmt_pneumo_at_risk", HBA1C}

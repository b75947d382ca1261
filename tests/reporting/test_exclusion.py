"""Patients who objected are left out of the counts of the measure engine and of the patientèle.

Hand-written centre: three treated diabetics (two with two HbA1c, one with none) and a child. Leaving
out one diabetic with two HbA1c must take exactly one from the denominator and one from the
numerator, and one from the patientèle; leaving out nobody must give the engine's usual counts.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from proxisante.economics.profile_warehouse import profile_from_warehouse
from proxisante.measures.context import Context
from proxisante.measures.definition import measure
from proxisante.measures.periods import parse_period
from proxisante.measures.results import run, series
from proxisante.population.patientele import Patientele
from proxisante.reporting.build import Options, build_report, evolution, previous_periods
from proxisante.reporting.counts import WithoutPersons
from proxisante.reporting.model import TrendPoint
from proxisante.warehouse.schema import TABLES_BY_NAME
from tests.lib.measure_fixture import Centre

HBA1C = [("1577", "2025-02-01"), ("1577", "2025-08-01")]
METFORMIN = [("A10BA02", "2025-01-15"), ("A10BA02", "2025-04-15")]


def centre() -> Centre:
    c = Centre()
    c.patient("controlled", born="1950-01-01", sex="F", drugs=METFORMIN, labs=HBA1C, ald=("E11.9",))
    c.patient("objector", born="1955-01-01", sex="M", drugs=METFORMIN, labs=HBA1C)
    c.patient("uncontrolled", born="1960-01-01", sex="M", drugs=METFORMIN)
    c.patient("child", born="2020-01-01", sex="F")
    return c


def _hba1c(warehouse, excluded=()) -> tuple[int, int, int]:
    row = run(warehouse, parse_period("2025"), [measure("rosp_diabetes_hba1c")], exclude_person_ids=excluded).table
    (total,) = row.itertuples()
    return int(total.initial_population), int(total.denominator), int(total.numerator)


def test_an_objecting_patient_leaves_the_measure_counts() -> None:
    c = centre()
    warehouse = c.warehouse()
    objector = c.person_id("objector")
    assert _hba1c(warehouse) == (3, 3, 2)  # adults of the patientèle, treated diabetics, two HbA1c
    assert _hba1c(warehouse, excluded=[objector]) == (2, 2, 1)
    assert _hba1c(warehouse, excluded=[c.person_id("child")]) == (3, 3, 2)  # not in this measure anyway
    assert _hba1c(warehouse, excluded=[objector, c.person_id("uncontrolled")]) == (1, 1, 1)


def test_an_objecting_patient_leaves_the_context_and_the_series() -> None:
    c = centre()
    warehouse = c.warehouse()
    objector = c.person_id("objector")
    people = warehouse.execute(Context(warehouse, dt.date(2025, 12, 31), cache_tables=False).persons)
    assert c.names(people.person_id) == {"controlled", "objector", "uncontrolled", "child"}
    left = Context(warehouse, dt.date(2025, 12, 31), cache_tables=False, exclude_person_ids=frozenset({objector}))
    assert c.names(warehouse.execute(left.persons).person_id) == {"controlled", "uncontrolled", "child"}
    chosen = measure("rosp_diabetes_hba1c")
    full = series(warehouse, chosen, dt.date(2025, 12, 1), dt.date(2025, 12, 1))
    fewer = series(warehouse, chosen, dt.date(2025, 12, 1), dt.date(2025, 12, 1), exclude_person_ids=[objector])
    assert (int(full.denominator[0]), int(full.numerator[0])) == (3, 2)
    assert (int(fewer.denominator[0]), int(fewer.numerator[0])) == (2, 1)


def test_an_objecting_patient_leaves_the_patientele() -> None:
    c = centre()
    warehouse = c.warehouse()
    day = dt.date(2025, 12, 31)

    def counts(excluded=()) -> dict[str, int]:
        with Patientele(warehouse, day, exclude_person_ids=excluded) as p:
            frame = p.composition(by_provider=False)
            pyramid = p.pyramid(by_provider=False)
        by_indicator = dict(zip(frame.indicator, frame.patients, strict=True))
        men = int(pyramid[pyramid.sex == "M"].patients.sum())
        return {"panel": int(frame.panel.iloc[0]), "ald": by_indicator["ald"],
                "diabetes": by_indicator["diabetes"], "men": men}  # fmt: skip

    assert counts() == {"panel": 4, "ald": 1, "diabetes": 3, "men": 2}
    assert counts([c.person_id("objector")]) == {"panel": 3, "ald": 1, "diabetes": 2, "men": 1}
    assert counts([c.person_id("controlled")]) == {"panel": 3, "ald": 0, "diabetes": 2, "men": 2}


def test_the_report_leaves_the_objecting_patient_out_of_every_count() -> None:
    """Threshold 1 (everything published), so that the hand-written counts can be read exactly."""
    c = Centre()
    c.patient("controlled", born="1950-01-01", sex="F", drugs=METFORMIN, labs=HBA1C, visits=[("G", "2025-03-01")])
    c.patient("objector", born="1955-01-01", sex="M", drugs=METFORMIN, labs=HBA1C,
              visits=[("G", "2025-03-02"), ("G", "2025-06-02")])  # fmt: skip
    c.patient("uncontrolled", born="1960-01-01", sex="M", drugs=METFORMIN, visits=[("G", "2025-04-01")])
    warehouse = c.warehouse()
    schema = TABLES_BY_NAME["fr_provider_activity"].schema.to_pyarrow()
    row = {"provider_id": 1, "profession": "MG", "fte": 1.0, "start_date": dt.date(2015, 1, 1), "end_date": None}
    warehouse.backend.insert("fr_provider_activity", pa.Table.from_pylist([row], schema))
    options = Options(trend_periods=0, measures=[measure("rosp_diabetes_hba1c")], registries=["diabetes"],
                      threshold=1)  # fmt: skip

    def counts(excluded=()) -> dict[str, object]:
        report = build_report(warehouse, parse_period("2025"), excluded, options)
        tables = {t.id: t for t in report.tables()}
        pyramid_total = tables["panel_pyramid"].rows[-1].values
        contacts = tables["activity_professions"].rows[-1].values
        (hba1c,) = report.indicators
        return {
            "panel": tables["panel_composition"].rows[0].values["patients"],
            "men": pyramid_total["sex_M"],
            "contacts": (contacts["contacts"], contacts["patients"]),
            "hba1c": (hba1c.denominator, hba1c.numerator),
        }

    assert counts() == {"panel": 3, "men": 2, "contacts": (4, 3), "hba1c": (3, 2)}
    assert counts([c.person_id("objector")]) == {"panel": 2, "men": 1, "contacts": (2, 2), "hba1c": (2, 1)}


def test_the_economic_profile_sees_no_objecting_patient() -> None:
    """The economic engine takes no exclusion: it reads a view of the warehouse without the objector."""
    c = centre()
    warehouse = c.warehouse()
    schema = TABLES_BY_NAME["fr_provider_activity"].schema.to_pyarrow()
    row = {"provider_id": 1, "profession": "MG", "fte": 1.0, "start_date": dt.date(2015, 1, 1), "end_date": None}
    warehouse.backend.insert("fr_provider_activity", pa.Table.from_pylist([row], schema))
    objector = c.person_id("objector")
    full = profile_from_warehouse(warehouse, 2025, measures=False)
    view = WithoutPersons(warehouse, [objector])
    fewer = profile_from_warehouse(view, 2025, measures=False)
    assert (full.patients, fewer.patients) == (4, 3)
    assert sum(cell.diabetics for cell in fewer.panel) == sum(cell.diabetics for cell in full.panel) - 1
    assert warehouse.execute(view.table("person")).person_id.tolist().count(objector) == 0
    assert len(warehouse.execute(view.table("provider"))) == 2  # tables without person_id are untouched


def test_previous_periods_and_evolution() -> None:
    assert [p.label for p in previous_periods(parse_period("2025"), 2)] == ["2023", "2024"]
    assert [p.label for p in previous_periods(parse_period("2025-T1"), 2)] == ["2024-T3", "2024-T4"]
    rolling = previous_periods(parse_period("12M:2025-06-30"), 1)[0]
    assert (rolling.start, rolling.end) == (dt.date(2023, 7, 1), dt.date(2024, 6, 30))
    hba1c = measure("rosp_diabetes_hba1c")  # higher is better

    def point(rate, low, high):
        return TrendPoint("p", 100, 50, rate, low, high, True, None)

    assert evolution(hba1c, point(0.5, 0.4, 0.6), point(0.8, 0.7, 0.9)) == "en amélioration"
    assert evolution(hba1c, point(0.8, 0.7, 0.9), point(0.5, 0.4, 0.6)) == "en dégradation"
    assert evolution(hba1c, point(0.5, 0.4, 0.6), point(0.55, 0.45, 0.65)) == "stable"
    assert evolution(hba1c, None, point(0.5, 0.4, 0.6)) == "non calculable"
    assert evolution(measure("rosp_benzo_hypnotic_4w"), point(0.5, 0.4, 0.6), point(0.2, 0.1, 0.3)) == "en amélioration"

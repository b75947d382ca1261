"""The patientèle outputs: pyramid, composition, registries, access, flows and risk levels.

Each hand-written centre below lists its patients with what a reader can check on a calendar, and
the expected counts are written BY HAND next to it (reference date 2025-12-31 unless said). The
last tests run everything on a small synthetic centre and check that the outputs agree with each
other and that registry prevalences are those the generator was asked for.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from proxisante.definitions import DefinitionError
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.measures.context import Context
from proxisante.measures.periods import parse_period
from proxisante.population import flows as flows_module
from proxisante.population import panel, registries, risk, steps
from proxisante.population.patientele import Patientele
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, generate_centre, load_parameters
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.schema import TABLES_BY_NAME
from tests.lib.measure_fixture import MT_PROVIDER, OTHER_PROVIDER, RPPS, Centre

REF = dt.date(2025, 12, 31)
MT1, MT2 = RPPS[MT_PROVIDER], RPPS[OTHER_PROVIDER]
TOTAL = "Total"


def insert(warehouse: Warehouse, table: str, rows: list[dict]) -> None:
    """Extra rows the fixture cannot describe (a second declaration, a hospital stay)."""
    schema = TABLES_BY_NAME[table].schema.to_pyarrow()
    full = [{column: row.get(column) for column in schema.names} for row in rows]
    warehouse.backend.insert(table, pa.Table.from_pylist(full, schema=schema))


def declaration(centre: Centre, name: str, provider: int, since: str, until: str | None = None) -> dict:
    pid = centre.person_id(name)
    return {
        "mt_declaration_id": 1000 + pid, "person_id": pid, "provider_id": provider,
        "start_date": dt.date.fromisoformat(since), "end_date": dt.date.fromisoformat(until) if until else None,
    }  # fmt: skip


def stay(centre: Centre, name: str, day: str, concept: int = 9201) -> dict:
    when = dt.date.fromisoformat(day)
    return {
        "visit_occurrence_id": 5000 + centre.person_id(name), "person_id": centre.person_id(name),
        "visit_concept_id": concept, "visit_start_date": when, "visit_end_date": when + dt.timedelta(days=3),
        "visit_type_concept_id": 32817,
    }  # fmt: skip


def twice(code: str, first: str, second: str) -> list[tuple[str, str]]:
    return [(code, first), (code, second)]


def thrice(code: str, year: str = "2025") -> list[tuple[str, str]]:
    """Prescribed on 3 distinct days of ``year``: a regular treatment for polypharmacy."""
    return [(code, f"{year}-02-01"), (code, f"{year}-05-01"), (code, f"{year}-09-01")]


# -- composition, pyramid, registries, access ------------------------------------------------------


def composition_patients() -> Centre:
    c = Centre()
    # In the patientèle médecin traitant on 2025-12-31 (MT1 unless mt=OTHER_PROVIDER): 18 patients.
    c.patient("diab_ald", "1950-03-02", ald=("E11.9",), visits=[("G", "2025-01-10")])  # 75, F, diabetes (ALD)
    c.patient("diab_dx", "1962-07-14", sex="M", conditions=[("E11.9", "2019-05-01")])  # 63, diabetes (diagnosis)
    c.patient("diab_drugs", "1970-01-01", mt=OTHER_PROVIDER, drugs=twice("A10BA02", "2025-03-01", "2025-09-01"))
    c.patient("one_metformin", "1970-06-01", sex="M", mt=OTHER_PROVIDER, drugs=[("A10BA02", "2025-05-01")])
    c.patient("metformin_2024", "1985-02-02", c2s=True, drugs=twice("A10BA02", "2024-06-01", "2024-10-01"))
    c.patient("hta_dx", "1955-12-31", conditions=[("I10", "2012-01-01")], visits=[("G", "2024-01-01")])  # 70 today
    c.patient("hta_drugs", "1960-01-01", sex="M", drugs=twice("C09AA05", "2025-02-01", "2025-08-01"))
    c.patient(
        "coronary_bb", "1948-05-05", sex="M", mt=OTHER_PROVIDER, ald=("I25.9",),
        conditions=[("I25.9", "2018-01-01")], drugs=twice("C07AB07", "2025-02-01", "2025-08-01"),
    )  # fmt: skip
    c.patient("coronary_hta", "1945-01-01", sex="M", conditions=[("I25.9", "2015-01-01"), ("I10", "2015-01-01")])
    c.patient("hf_ald", "1940-02-01", ald=("I50.9",))
    c.patient(
        "asthma_3", "2000-04-04", mt=OTHER_PROVIDER, c2s=True,
        drugs=[("R03AC02", "2025-01-15"), ("R03AC02", "2025-05-15"), ("R03AC02", "2025-10-15")],
    )  # fmt: skip
    c.patient(
        "salbutamol_2", "2001-04-04", sex="M", mt=OTHER_PROVIDER, drugs=twice("R03AC02", "2025-02-01", "2025-03-01")
    )
    c.patient("copd_dx", "1958-09-09", sex="M", conditions=[("J44.9", "2020-01-01")], visits=[("G", "2023-12-31")])
    c.patient("depr_recent", "1990-03-03", conditions=[("F32.9", "2024-03-01")])
    c.patient("depr_old", "1991-03-03", conditions=[("F32.9", "2023-06-01")])
    c.patient("antidep", "1975-11-11", sex="M", mt=OTHER_PROVIDER, drugs=twice("N06AB10", "2025-04-01", "2025-06-01"))
    c.patient("child", "2020-06-01", sex="I")
    c.patient("newborn", "2025-06-01", mt_since="2025-07-01")
    # Not in the patientèle.
    c.patient("no_mt", "1980-01-01", sex="M", mt=None, visits=[("G", "2025-03-01")])
    c.patient("ended", "1952-01-01", mt_until="2025-06-30", ald=("E11.9",), visits=[("G", "2024-02-01")])
    c.patient("dead", "1940-01-01", died="2025-06-01", visits=[("G", "2025-03-01")])
    c.patient("not_seen", "1999-01-01", mt=None, visits=[("G", "2023-12-31")])
    c.patient("future_mt", "1988-08-08", sex="M", mt_since="2026-01-15", visits=[("G", "2025-11-01")])
    return c


@pytest.fixture(scope="module")
def composition_centre() -> tuple[Centre, Warehouse]:
    c = composition_patients()
    return c, c.warehouse()


PANEL = {
    "diab_ald", "diab_dx", "diab_drugs", "one_metformin", "metformin_2024", "hta_dx", "hta_drugs", "coronary_bb",
    "coronary_hta", "hf_ald", "asthma_3", "salbutamol_2", "copd_dx", "depr_recent", "depr_old", "antidep", "child",
    "newborn",
}  # fmt: skip


def test_patientele_is_the_persons_with_a_declaration_in_force(composition_centre) -> None:
    c, w = composition_centre
    frame = w.execute(panel.patientele(Context(w, REF)))
    assert c.names(frame.person_id) == PANEL
    by_name = {c.names([p]).pop(): b for p, b in zip(frame.person_id, frame.pyramid_band, strict=True)}
    assert by_name["hta_dx"] == "70-74"  # 70 on the reference date itself
    assert by_name["depr_old"] == "30-34" and by_name["newborn"] == "0-4" and by_name["hf_ald"] == "85-89"


def test_pyramid_counts(composition_centre) -> None:
    _, w = composition_centre
    frame = panel.pyramid(Context(w, REF))
    total = frame[frame.mt_rpps == TOTAL].set_index(["age_band", "sex"]).patients
    expected = {
        ("0-4", "F"): 1, ("5-9", "I"): 1, ("20-24", "M"): 1, ("25-29", "F"): 1, ("30-34", "F"): 1, ("35-39", "F"): 1,
        ("40-44", "F"): 1, ("50-54", "M"): 1, ("55-59", "F"): 1, ("55-59", "M"): 1, ("60-64", "M"): 1,
        ("65-69", "M"): 2, ("70-74", "F"): 1, ("75-79", "F"): 1, ("75-79", "M"): 1, ("80-84", "M"): 1,
        ("85-89", "F"): 1,
    }  # fmt: skip
    assert {k: v for k, v in total.items() if v} == expected
    assert len(total) == 20 * 3  # every band and sex, zeros included
    assert frame[frame.mt_rpps == MT1].patients.sum() == 12 and frame[frame.mt_rpps == MT2].patients.sum() == 6
    mt2 = frame[(frame.mt_rpps == MT2) & (frame.patients > 0)].set_index(["age_band", "sex"]).patients.to_dict()
    assert mt2 == {("20-24", "M"): 1, ("25-29", "F"): 1, ("50-54", "M"): 1, ("55-59", "F"): 1, ("55-59", "M"): 1,
                   ("75-79", "M"): 1}  # fmt: skip


def test_registry_members_by_hand(composition_centre) -> None:
    c, w = composition_centre
    ctx = Context(w, REF)
    got = {name: c.names(w.execute(registries.members(ctx, name)).person_id) for name in registries.registries()}
    assert got == {
        "diabetes": {"diab_ald", "diab_dx", "diab_drugs", "ended"},  # one or 2024-only metformin: not enough
        "hypertension": {"hta_dx", "hta_drugs", "coronary_hta"},  # beta-blocker of a coronary patient: not HTA
        "coronary_disease": {"coronary_bb", "coronary_hta"},
        "copd_asthma": {"asthma_3", "copd_dx"},  # 2 salbutamol prescriptions are not enough
        "heart_failure": {"hf_ald"},
        "depression": {"depr_recent", "antidep"},  # F32 in 2023-06: older than 2 years
    }


def test_prevalence_in_each_population(composition_centre) -> None:
    _, w = composition_centre
    ctx = Context(w, REF)
    panel_mt = registries.prevalence(ctx).set_index("registry")
    assert (panel_mt.loc["diabetes", "members"], panel_mt.loc["diabetes", "persons"]) == (3, 18)
    assert panel_mt.loc["diabetes", "national"] == pytest.approx(0.06)
    everyone = registries.prevalence(ctx, ["diabetes"], among="all").set_index("registry")
    assert (everyone.loc["diabetes", "members"], everyone.loc["diabetes", "persons"]) == (4, 22)  # "dead" is not
    seen = registries.prevalence(ctx, ["diabetes"], among="seen").set_index("registry")
    assert (seen.loc["diabetes", "members"], seen.loc["diabetes", "persons"]) == (2, 5)  # diab_ald and ended
    with pytest.raises(ValueError, match="population"):
        registries.prevalence(ctx, ["diabetes"], among="everyone")


def test_composition_counts_and_shares(composition_centre) -> None:
    _, w = composition_centre
    frame = panel.composition(Context(w, REF))
    counts = {(r.mt_rpps, r.indicator): r.patients for r in frame.itertuples()}
    expected_total = {"ald": 3, "c2s": 2, "diabetes": 3, "hypertension": 3, "coronary_disease": 2, "copd_asthma": 2,
                      "heart_failure": 1, "depression": 2, "registries_2plus": 1}  # fmt: skip
    expected_mt1 = {"ald": 2, "c2s": 1, "diabetes": 2, "hypertension": 3, "coronary_disease": 1, "copd_asthma": 1,
                    "heart_failure": 1, "depression": 1, "registries_2plus": 1}  # fmt: skip
    expected_mt2 = {"ald": 1, "c2s": 1, "diabetes": 1, "hypertension": 0, "coronary_disease": 1, "copd_asthma": 1,
                    "heart_failure": 0, "depression": 1, "registries_2plus": 0}  # fmt: skip
    for rpps, expected in ((TOTAL, expected_total), (MT1, expected_mt1), (MT2, expected_mt2)):
        assert {k: counts[(rpps, k)] for k in expected} == expected, rpps
    total = frame[frame.mt_rpps == TOTAL].set_index("indicator")
    assert set(total.panel) == {18} and total.loc["diabetes", "share"] == pytest.approx(3 / 18)
    assert set(frame[frame.mt_rpps == MT2].panel) == {6}


def test_access_patients_seen_with_and_without_mt(composition_centre) -> None:
    c, w = composition_centre
    ctx = Context(w, REF)
    frame = panel.access(ctx).set_index("age_band")
    # Seen since 2024-01-01: diab_ald and hta_dx (MT), no_mt, ended and future_mt (no MT in force).
    assert frame.loc[TOTAL, ["seen", "with_mt", "without_mt", "without_mt_ald", "without_mt_c2s"]].tolist() == [
        5, 2, 3, 1, 0,
    ]  # fmt: skip
    assert frame.loc["70-74", ["seen", "with_mt", "without_mt"]].tolist() == [2, 1, 1]
    assert frame.loc["45-49", "without_mt"] == 1 and frame.loc["35-39", "without_mt"] == 1
    assert frame.loc[TOTAL, "share_without_mt"] == pytest.approx(3 / 5)
    assert math.isnan(frame.loc["0-4", "share_without_mt"])
    listed = w.execute(panel.seen_without_mt(ctx))
    assert c.names(listed.person_id) == {"no_mt", "ended", "future_mt"}
    assert c.names([listed.person_id.iloc[0]]) == {"ended"}  # ALD first
    assert set(listed.columns) == {"person_id", "pyramid_band", "sex", "ald", "c2s", "contacts", "last_contact"}


def test_patients_of_a_departed_mt() -> None:
    w = composition_patients().warehouse()
    assert panel.departed_mt(Context(w, REF)).empty
    insert(w, "fr_provider_activity", [
        {"provider_id": MT_PROVIDER, "profession": "MG", "start_date": dt.date(2010, 1, 1)},
        {"provider_id": OTHER_PROVIDER, "profession": "MG", "start_date": dt.date(2010, 1, 1),
         "end_date": dt.date(2025, 6, 30)},
    ])  # fmt: skip
    frame = panel.departed_mt(Context(w, REF))
    assert frame.to_dict("records") == [{"mt_rpps": MT2, "activity_end": dt.date(2025, 6, 30), "patients": 6, "ald": 1}]


def test_no_hospital_stay_recorded_means_unknown(composition_centre) -> None:
    _, w = composition_centre
    factors = risk.factor_counts(Context(w, REF)).set_index("factor")
    assert not factors.loc["hospitalisation", "recorded"] and factors.loc["age", "recorded"]


# -- risk levels --------------------------------------------------------------------------------


def risk_patients(warehouse: Warehouse) -> Centre:
    """The risk centre written into ``warehouse`` (any engine), hospital stays included."""
    c = Centre()
    c.patient("young_healthy", "1995-01-01")
    c.patient("age75", "1950-06-01")
    c.patient("age74_hta", "1951-06-01", conditions=[("I10", "2020-01-01")])
    five = [d for code in ("A10BA02", "C09AA05", "C10AA05", "B01AC06", "R03AC02") for d in thrice(code)]
    c.patient("old_multi", "1938-01-01", conditions=[("E11.9", "2010-01-01"), ("I10", "2010-01-01"),
                                                       ("J44.9", "2015-01-01")], drugs=five)  # fmt: skip
    four = [d for code in ("H03AA01", "A02BC05", "C10AA05", "M01AE01") for d in thrice(code)]
    extra = [("N02BE01", "2025-02-01"), ("N02BE01", "2025-03-01"), *thrice("J07BB02"), *thrice("B01AF02", "2024")]
    c.patient("four_drugs", "1970-01-01", sex="M", drugs=four + extra)
    ten = ("H03AA01", "A02BC05", "C10AA05", "M01AE01", "N02BE01", "B01AC06", "C10AA07", "N05BA12", "J01CA04", "B01AF02")
    c.patient("ten_drugs", "1980-01-01", drugs=[d for code in ten for d in thrice(code)])
    c.patient("hosp_old", "1940-06-01", sex="M")
    c.patient("hosp_2024", "1990-01-01")
    w = c.write(warehouse)
    insert(w, "visit_occurrence", [stay(c, "old_multi", "2025-10-01"), stay(c, "hosp_old", "2025-01-01", 262),
                                   stay(c, "hosp_2024", "2024-12-31")])  # fmt: skip
    return c


@pytest.fixture(scope="module")
def risk_centre() -> tuple[Centre, Warehouse]:
    w = Warehouse.connect("duckdb://")
    return risk_patients(w), w


def test_risk_points_levels_and_reasons_by_hand(risk_centre) -> None:
    c, w = risk_centre
    frame = w.execute(risk.per_person(Context(w, REF)))
    got = {c.names([r.person_id]).pop(): (r.substances, r.points, r.level, r.reasons) for r in frame.itertuples()}
    assert got == {
        "young_healthy": (0, 0, "faible", ""),
        "age75": (0, 1, "modéré", "âge 75 ans"),
        "age74_hta": (0, 1, "modéré", "1 maladie chronique (HTA)"),
        "old_multi": (5, 8, "très élevé", "âge 87 ans; 3 maladies chroniques (diabète, HTA, BPCO/asthme); "
                                          "polymédication (5 substances); hospitalisation récente"),
        "four_drugs": (4, 0, "faible", ""),  # paracetamol twice, a vaccine, a 2024 drug: not counted
        "ten_drugs": (10, 2, "modéré", "polymédication (10 substances)"),
        "hosp_old": (0, 4, "élevé", "âge 85 ans; hospitalisation récente"),  # stay on the window's first day
        "hosp_2024": (0, 0, "faible", ""),
    }  # fmt: skip


def test_risk_counts_by_level_and_factor(risk_centre) -> None:
    _, w = risk_centre
    ctx = Context(w, REF)
    levels = risk.level_counts(ctx, by_provider=False).set_index("level")
    assert levels.patients.to_dict() == {"faible": 3, "modéré": 3, "élevé": 1, "très élevé": 1}
    assert levels.loc["élevé", "share"] == pytest.approx(1 / 8)
    factors = risk.factor_counts(ctx).set_index("factor")
    assert factors.patients.to_dict() == {"age": 3, "registries": 2, "polypharmacy": 2, "hospitalisation": 2}
    assert factors.recorded.all()


# -- flows --------------------------------------------------------------------------------------


def flows_patients(warehouse: Warehouse) -> Centre:
    """The flows centre written into ``warehouse`` (any engine), second declarations included."""
    c = Centre()
    c.patient("stable", "1960-01-01")
    c.patient("arrive_march", "1961-01-01", mt_since="2025-03-10")
    c.patient("leave_june", "1962-01-01", mt_until="2025-06-15")
    c.patient("die_august", "1930-01-01", died="2025-08-20")
    c.patient("switch_may", "1963-01-01", mt_until="2025-04-30")
    c.patient("overlap_sept", "1964-01-01")
    c.patient("until_dec31", "1965-01-01", mt_until="2025-12-31")
    c.patient("until_2024_12_31", "1966-01-01", mt=OTHER_PROVIDER, mt_until="2024-12-31")
    c.patient("in_and_out_july", "1967-01-01", mt_since="2025-07-03", mt_until="2025-07-20")
    c.patient("dead_2024", "1935-01-01", died="2024-05-01")
    c.patient("mt2_arrive_dec31", "1968-01-01", mt=OTHER_PROVIDER, mt_since="2025-12-31")
    c.patient("leave_then_die", "1936-01-01", mt_until="2025-02-10", died="2025-04-01")
    c.patient("die_no_mt", "1937-01-01", mt=None, died="2025-03-01")
    c.patient("arrive_jan1", "1969-01-01", mt=OTHER_PROVIDER, mt_since="2025-01-01")
    w = c.write(warehouse)
    insert(w, "fr_mt_declaration", [declaration(c, "switch_may", OTHER_PROVIDER, "2025-05-01"),
                                    declaration(c, "overlap_sept", OTHER_PROVIDER, "2025-09-10")])  # fmt: skip
    return c


@pytest.fixture(scope="module")
def flows_centre() -> tuple[Centre, Warehouse]:
    w = Warehouse.connect("duckdb://")
    return flows_patients(w), w


def test_transitions_by_hand(flows_centre) -> None:
    c, w = flows_centre
    frame = w.execute(flows_module.transitions(w, parse_period("2025")))
    got = {(c.names([r.person_id]).pop(), pd.Timestamp(r.month_end).strftime("%m"), r.movement)
           for r in frame.itertuples()}  # fmt: skip
    assert got == {
        ("arrive_jan1", "01", "arrival"), ("until_2024_12_31", "01", "departure"),
        ("leave_then_die", "02", "departure"), ("arrive_march", "03", "arrival"), ("switch_may", "05", "change"),
        ("leave_june", "06", "departure"), ("die_august", "08", "death"), ("overlap_sept", "09", "change"),
        ("mt2_arrive_dec31", "12", "arrival"),
    }  # fmt: skip


def test_flows_totals_by_hand(flows_centre) -> None:
    _, w = flows_centre
    frame = flows_module.flows(w, parse_period("2025"))
    totals = frame[frame.month == TOTAL].set_index("mt_rpps")
    columns = list(flows_module.FLOW_COLUMNS)
    # panel_start, arrivals, from colleague, departures, to colleague, deaths, net, panel_end
    assert totals.loc[TOTAL, columns].tolist() == [8, 3, 2, 3, 2, 1, -1, 7]
    assert totals.loc[MT1, columns].tolist() == [7, 1, 0, 2, 2, 1, -4, 3]
    assert totals.loc[MT2, columns].tolist() == [1, 2, 2, 1, 0, 0, 3, 4]
    months = frame[(frame.mt_rpps == TOTAL) & (frame.month != TOTAL)].set_index("month")
    assert months.loc["2025-01", ["arrivals", "departures"]].tolist() == [1, 1]
    assert months.loc["2025-08", "deaths"] == 1 and months.loc["2025-07", "net_change"] == 0
    assert (frame.panel_end - frame.panel_start == frame.net_change).all()
    assert len(months) == 12


def test_flows_of_a_quarter_observe_its_three_months(flows_centre) -> None:
    # On 2025-06-30: stable, arrive_march, die_august, switch_may, overlap_sept, until_dec31, arrive_jan1.
    _, w = flows_centre
    frame = flows_module.flows(w, parse_period("2025-T3"), by_provider=False)
    assert frame.month.tolist() == ["2025-07", "2025-08", "2025-09", TOTAL]
    total = frame.set_index("month").loc[TOTAL]
    assert (total.panel_start, total.deaths, total.arrivals_from_colleague, total.panel_end) == (7, 1, 1, 6)


# -- definitions --------------------------------------------------------------------------------


def test_parameters_carry_a_source_and_registries_compile() -> None:
    for name, entry in steps.PARAMETERS.entries().items():
        assert entry.source and entry.since, name
    assert panel.band_labels()[0] == "0-4" and panel.band_labels()[-1] == "95+"
    assert steps.stepped("risk_levels", 4) == "élevé" and steps.stepped("risk_age_points", 60) is None
    assert list(registries.registries()) == [
        "diabetes", "hypertension", "coronary_disease", "copd_asthma", "heart_failure", "depression",
    ]  # fmt: skip
    for r in registries.registries().values():
        assert r.as_measure().population == "all" and r.national is not None
    with pytest.raises(DefinitionError):
        registries.registry("diabete")


# -- a synthetic centre -------------------------------------------------------------------------

SYNTH_REGISTRIES = {  # registry -> conditions of synth/parameters.yaml it should find
    "diabetes": ("diabetes_t2", "diabetes_t1"),
    "hypertension": ("hypertension",),
    "coronary_disease": ("coronary",),
    "copd_asthma": ("copd", "asthma"),
    "heart_failure": ("heart_failure",),
    "depression": ("depression",),
}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Patientele]:
    root = tmp_path_factory.mktemp("population")
    out = root / "centre"
    generate_centre(SynthOptions(patients=1500, seed=23, out=out))
    settings = Settings(
        home=root / "home", warehouse_url=f"duckdb://{root / 'warehouse.duckdb'}",
        key_file=root / "key", vault_path=root / "vault.duckdb",
    )  # fmt: skip
    inst = open_installation(settings)
    try:
        load_pivot(Path(out), inst, source="centre")
        with Patientele(inst.warehouse, REF) as patientele:
            yield patientele
    finally:
        inst.close()


def test_synthetic_outputs_agree_with_each_other(synthetic: Patientele) -> None:
    pyramid = synthetic.pyramid()
    size = int(pyramid[pyramid.mt_rpps == TOTAL].patients.sum())
    assert size > 500
    assert pyramid[pyramid.mt_rpps != TOTAL].patients.sum() == size
    composition = synthetic.composition()
    assert set(composition[composition.mt_rpps == TOTAL].panel) == {size}
    levels = synthetic.risk_levels()
    assert levels[levels.mt_rpps == TOTAL].patients.sum() == size
    assert levels[levels.mt_rpps == TOTAL].set_index("level").loc["faible", "share"] > 0.4
    access = synthetic.access().set_index("age_band")
    assert (access.seen == access.with_mt + access.without_mt).all()
    assert access.drop(index=TOTAL).seen.sum() == access.loc[TOTAL, "seen"]
    listed = synthetic.warehouse.execute(synthetic.seen_without_mt())
    assert len(listed) == access.loc[TOTAL, "without_mt"] > 0
    flows = synthetic.flows(parse_period("2025"))
    assert (flows.panel_end - flows.panel_start == flows.net_change).all()
    total = flows[flows.month == TOTAL].set_index("mt_rpps")
    assert total.loc[TOTAL, "panel_end"] == size
    providers = total.drop(index=TOTAL)
    assert providers.arrivals.sum() == total.loc[TOTAL, "arrivals"]
    assert providers.deaths.sum() == total.loc[TOTAL, "deaths"]
    assert providers.arrivals_from_colleague.sum() == providers.departures_to_colleague.sum()


def test_synthetic_registry_prevalence_matches_the_generator(synthetic: Patientele) -> None:
    """Members of each registry in the patientèle against the number the generator's age- and
    sex-specific prevalences predict for the same persons (sum of their probabilities)."""
    people = synthetic.warehouse.execute(panel.patientele(synthetic.context).select("age", "sex"))
    conditions = {c.name: c for c in load_parameters().conditions}
    ages, female = people.age.to_numpy(dtype=float), (people.sex == "F").to_numpy()
    composition = synthetic.composition(by_provider=False).set_index("indicator")
    for registry, names in SYNTH_REGISTRIES.items():
        expected = sum(float(np.sum(conditions[n].prevalence.at(ages, female))) for n in names)
        observed = int(composition.loc[registry, "patients"])
        slack = 3 * math.sqrt(expected) + 3
        print(f"{registry}: {observed} in the patientèle, {expected:.1f} expected")
        assert 0.6 * expected - slack <= observed <= 1.5 * expected + slack, (registry, observed, expected)

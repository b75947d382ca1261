"""PEPS (AME, commune poverty, the +20 % cap on prior earnings), FMT ZIP, ANCS, IPEP quality: hand-computed here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from proxisante.economics.communes import load_poverty_rates, load_zip_communes, with_poverty_rates, with_zip_communes
from proxisante.economics.payments import Rates, Volume, ancs_points, fmt, ipep, model, poverty_share, zip_share
from proxisante.economics.profile import ProfileError, parse_profile
from proxisante.economics.quality import ipep_indicator_score, ipep_score
from tests.economics.test_payments import BANDS, COSTS, profile
from tests.lib.paths import TEST_DATA

DATA = TEST_DATA / "economics"
# PEPS weights whose national mean is 1: the calibration factor is the 96 € average itself.
FLAT_PEPS = {
    "peps.age_weights": dict.fromkeys(BANDS, 1.0),
    "peps.ald_weight": 2.0,
    "peps.c2s_weight": 1.5,
    "peps.reference_mix": {"age": {"0-6": 0, "7-64": 1.0, "65-74": 0, "75-79": 0, "80+": 0},
                           "ald": dict.fromkeys(BANDS, 0.0), "c2s": 0.0},
    "peps.poverty_supplement": 0.05,
    "peps.poverty_threshold": 0.20,
    "peps.replaces_mt_forfaits": 1.0,
}  # fmt: skip


def with_ame(patients: int, ame: int, acts_mt: int = 1000, **extra):
    p = profile({("7-64", False, False): patients}, acts=[{"code": "G", "acts_mt": acts_mt}], **extra)
    cells = [c.model_copy(update={"ame": ame}) if (c.age_band, c.ald, c.c2s) == ("7-64", False, False) else c
             for c in p.panel]  # fmt: skip
    return p.model_copy(update={"panel": cells})


def test_ame_patients_take_the_c2s_weight_of_the_peps_forfait() -> None:
    lines = model("peps_all", with_ame(100, 20), COSTS, Rates(2025, FLAT_PEPS), Volume()).lines
    # 80 × 96 + 20 AME × 96 × 1.5 = 10,560 €; quality bonus 5 % → 11,088 €
    assert lines["Forfait PEPS"] == pytest.approx(11088)
    assert model("peps_all", with_ame(100, 0), COSTS, Rates(2025, FLAT_PEPS), Volume()).lines[
        "Forfait PEPS"
    ] == pytest.approx(100 * 96 * 1.05)


def test_an_ame_patient_in_a_c2s_cell_is_refused() -> None:
    data = profile({("7-64", False, True): 10}).model_dump()
    next(c for c in data["panel"] if c["patients"]).update(ame=1)
    with pytest.raises(ProfileError, match=r"panel\.5: .*a C2S cell has no AME patient"):
        parse_profile(data)


def test_poverty_rates_from_a_file_weighted_by_the_patients_communes() -> None:
    rates = load_poverty_rates(DATA / "pauvrete_communes.csv")
    assert rates == {"23096": 0.25, "23079": 0.10, "87085": 0.20}  # 25,0 / 10,0 % / 0.2
    communes = [{"commune": "23096", "patients": 50}, {"commune": "23079", "patients": 30},
                {"commune": "87085", "patients": 10}, {"commune": "19031", "patients": 10}]  # fmt: skip
    p = with_ame(100, 0, communes=communes)
    p = with_poverty_rates(p, rates)
    # Guéret 25 % and Limoges 20 % reach the 20 % threshold: 60 of the 100 patients; 19031 is not in the file
    assert poverty_share(p, Rates(2025, FLAT_PEPS)) == pytest.approx(0.6)
    assert any("10 patients MT dans des communes absentes du fichier" in n for n in p.notes)
    lines = model("peps_all", p, COSTS, Rates(2025, FLAT_PEPS), Volume()).lines
    assert lines["Forfait PEPS"] == pytest.approx(100 * 96 * (1 + 0.05 * 0.6) * 1.05)  # 10,382.40 €
    # the threshold is a parameter: at 26 % no commune is poor
    assert poverty_share(p, Rates(2025, {**FLAT_PEPS, "peps.poverty_threshold": 0.26})) == 0
    # without rates the declared share is kept
    assert poverty_share(with_ame(100, 0, poverty_share=0.3), Rates(2025)) == 0.3


def test_bad_commune_files_name_the_row_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "pauvrete.csv"
    bad.write_text("commune;taux_pauvrete\n3096;12\nGueret;abc\n", encoding="utf-8")  # 3096: read as 03096
    with pytest.raises(ProfileError, match=r"row 3, field commune: 'Gueret' is not an INSEE commune code"):
        load_poverty_rates(bad)
    bad.write_text("commune;taux_pauvrete\n23096;douze\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"row 2, field taux_pauvrete: 'douze' is not a number"):
        load_poverty_rates(bad)
    bad.write_text("commune;taux\n23096;12\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="column taux_pauvrete missing"):
        load_poverty_rates(bad)
    with pytest.raises(ProfileError, match="the profile has no communes"):
        with_poverty_rates(with_ame(10, 0), {"23096": 0.3})


def test_the_peps_cap_compares_with_the_prior_earnings_of_the_replaced_acts() -> None:
    values = {**FLAT_PEPS, "peps.poverty_supplement": 0.0}
    p = profile({("7-64", False, False): 100, ("80+", True, True): 10}, acts=[{"code": "G", "acts_mt": 100}])
    p = p.model_copy(update={"year": 2024})
    lines = model("peps_all", p, COSTS, Rates(2025, values), Volume(panel=1.1, acts=1.1 * 1.05)).lines
    # prior = 100 G at the 2024 tariff (26.50 € until 21 December, 30 € after) × the panel growth 1.1;
    # neither the 2025 tariff (30 €) nor the activity factor count.
    prior = 100 * (356 * 26.5 + 10 * 30) / 366 * 1.1
    assert lines["Forfait PEPS"] + lines["Écrêtement PEPS (plafond)"] == pytest.approx(1.2 * prior)  # 3,512.07 €


def test_zip_communes_give_the_fmt_bonus_to_their_gps() -> None:
    zips = load_zip_communes(DATA / "zip_communes.csv")
    assert zips == {"23096", "23176"}
    sites = [{"commune": "23096", "fte": 4.0}, {"commune": "23079", "fte": 6.0, "fte_67_plus": 1.5}]
    p = with_zip_communes(profile({("7-64", False, False): 1000}, gp_sites=sites), zips)
    # 4 FTE in Guéret (ZIP) + 1.5 FTE aged 67+ elsewhere, of 10 FTE
    assert zip_share(p) == pytest.approx(0.55)
    rates = Rates(2026, {"fmt.prevention_met_per_patient": 0.0})
    assert fmt(p, rates, [1.0] * 20)["FMT — socle"] == pytest.approx(1000 * 5 * (1 + 0.10 * 0.55))  # 5,275 €
    with pytest.raises(ProfileError, match="fte_67_plus cannot exceed fte"):
        profile({("7-64", False, False): 10}, gp_sites=[{"commune": "23096", "fte": 1, "fte_67_plus": 2}])


def test_ancs_forfait_from_the_engagements_met() -> None:
    met = {"horaires_snp": 1, "coordination": 1, "si_niveau_standard": 1, "protocoles": 10, "concertation": 1}
    p = profile({("7-64", False, False): 2000}, ancs_engagements=met)
    # fixed: 800 + 700 + 500 + 8 protocols (at most 8) × 100 = 2,800 points;
    # variable: (1,100 + 200 + 1,000) × 2,000 / 4,000 patients = 1,150 points
    assert ancs_points(p, Rates(2025)) == (pytest.approx(2800), pytest.approx(1150), True)
    result = model("acte", p, COSTS, Rates(2025), Volume(panel=2.0))
    assert result.lines["Forfait ANCS — points fixes"] == pytest.approx(2800 * 7)  # 19,600 €
    assert result.lines["Forfait ANCS — points variables"] == pytest.approx(1150 * 7 * 2.0)  # grows with the panel
    teulade = 80000 * 0.115
    assert result.fixed_revenue == pytest.approx(teulade + 19600)  # the variable part is not fixed revenue
    # a socle engagement missing: no point at all
    no_socle = profile({("7-64", False, False): 2000}, ancs_engagements={"coordination": 1, "protocoles": 3})
    assert ancs_points(no_socle, Rates(2025)) == (0.0, 0.0, False)
    with pytest.raises(ProfileError, match="ancs_engagements: vaccination_ete unknown"):
        profile({("7-64", False, False): 10}, ancs_engagements={"vaccination_ete": 1})
    with pytest.raises(ProfileError, match="not both"):
        profile({("7-64", False, False): 10}, ancs_engagements=met, ancs_forfait=1000.0)


def test_ipep_indicator_score_against_its_deciles() -> None:
    flu = {"direction": "higher", "progress_threshold": 0.48, "target": 0.62}
    assert ipep_indicator_score(0.65, None, flu) == 1.0  # beyond the target (8th decile)
    assert ipep_indicator_score(0.55, None, flu) == pytest.approx(0.5)  # halfway from the 3rd decile
    assert ipep_indicator_score(0.40, 0.30, flu) == pytest.approx(0.3125)  # below: progress 0.10 / 0.32
    assert ipep_indicator_score(0.40, None, flu) == 0.0
    antibiotics = {"direction": "lower", "progress_threshold": 45.0, "target": 28.0}
    assert ipep_indicator_score(36.5, None, antibiotics) == pytest.approx(0.5)
    assert ipep_indicator_score(50.0, 60.0, antibiotics) == pytest.approx(10 / 32)


def test_ipep_payment_after_the_quality_score() -> None:
    p = profile({("7-64", False, False): 300},
                measures=[{"id": "rosp_flu_65", "eligible": 100, "numerator": 55},
                          {"id": "rosp_diabetes_hba1c", "eligible": 100, "numerator": 90},
                          {"id": "rosp_colorectal_screening", "eligible": 3, "numerator": 3, "reportable": False}],
                ipep_indicators=[{"id": "readmission_30d", "value": 0.12}], ipep_patient_experience=10)  # fmt: skip
    rates = Rates(2025, {"ipep.spending_per_patient": 2000.0, "ipep.gap_ratio": 0.02, "ipep.growth_gap": 0.01})
    score = ipep_score(p, rates("ipep.quality_indicators"), rates("ipep.quality_scoring"), 0.7)
    sources = {i.id: i.source for i in score.indicators}
    assert sources["rosp_flu_65"] == "mesure" and sources["readmission_30d"] == "profil"
    assert sources["rosp_colorectal_screening"] == "sans donnée"  # not reportable
    # flu 55 % → 0.5, HbA1c 90 % → 1, readmissions 12 % → 0.5, the 5 others 0.7: mean 5.5 / 8 = 0.6875
    assert score.score == pytest.approx(68.75 + 10)
    assert score.share_paid == pytest.approx(0.7875)
    # 50 % × [⅓ × 40 € + ⅔ × 20 €] = 13.33 € per patient × 300 × 0.7875
    assert ipep(p, rates, Volume()) == pytest.approx(300 * 0.5 * (40 / 3 + 40 / 3) * 0.7875)  # 3,150 €
    with pytest.raises(ProfileError, match="ipep_patient_experience: at most 20 points"):
        profile({("7-64", False, False): 10}, ipep_patient_experience=25)
    with pytest.raises(ProfileError, match="IPEP indicator 'satisfaction' unknown"):
        profile({("7-64", False, False): 10}, ipep_indicators=[{"id": "satisfaction", "value": 1}])


def test_the_warehouse_profile_reads_ame_communes_gp_sites_and_previous_rates() -> None:
    from decimal import Decimal

    from proxisante.economics.profile_warehouse import profile_from_warehouse
    from tests.economics.test_profile import insert
    from tests.lib.measure_fixture import MT_PROVIDER, Centre

    c = Centre()
    for name, lab_2024, lab_2025 in (("a", 2, 2), ("b", 2, 2), ("c", 2, 1), ("d", 2, 0), ("e", 2, 2)):
        c.patient(name, "1950-01-01", commune="23096" if name < "c" else "23079",
                  drugs=[("A10BA02", "2024-01-10"), ("A10BA02", "2025-01-10")],
                  labs=[("1577", f"2024-0{m}-01") for m in range(2, 2 + lab_2024)]
                  + [("1577", f"2025-0{m}-01") for m in range(2, 2 + lab_2025)])  # fmt: skip
    c.patient("ame", "1990-01-01", commune="23096")
    warehouse = c.warehouse()
    ame = c.person_id("ame")
    insert(warehouse, "fr_coverage_period", [{"coverage_period_id": 9001, "person_id": ame, "coverage_type": "AME",
                                             "start_date": dt.date(2025, 1, 1)}])  # fmt: skip
    insert(warehouse, "location", [{"location_id": 99, "location_source_value": "23176"}])
    insert(warehouse, "care_site", [{"care_site_id": 1, "location_id": 99}])
    insert(warehouse, "fr_provider_activity", [{"provider_id": MT_PROVIDER, "profession": "MG", "fte": 0.8,
                                                "start_date": dt.date(2015, 1, 1)}])  # fmt: skip
    warehouse.backend.raw_sql(f"UPDATE provider SET year_of_birth = 1957 WHERE provider_id = {MT_PROVIDER}")
    act = {"billed_act_id": 1, "person_id": ame, "provider_id": MT_PROVIDER, "visit_occurrence_id": 1,
           "act_date": dt.date(2025, 3, 1), "code": "G", "coding_system": "NGAP", "amount": Decimal("30"),
           "payer": "AME"}  # fmt: skip
    insert(warehouse, "fr_billed_act", [act])
    p = profile_from_warehouse(warehouse, 2025)
    cell = next(x for x in p.panel if (x.age_band, x.ald, x.c2s) == ("7-64", False, False))
    assert (cell.patients, cell.ame) == (1, 1)
    assert [(x.commune, x.patients) for x in p.communes] == [("23079", 3), ("23096", 3)]
    # the GP practises in Saint-Vaury and is 68 on 31 December 2025 (born 1957)
    assert [(s.commune, s.fte, s.fte_67_plus) for s in p.gp_sites] == [("23176", 0.8, 0.8)]
    hba1c = next(m for m in p.measures if m.id == "rosp_diabetes_hba1c")
    assert (hba1c.rate, hba1c.previous_rate) == (pytest.approx(0.6), 1.0)  # 3/5 in 2025, 5/5 in 2024

"""Each rule of the economic engine against an example computed by hand in the test."""

from __future__ import annotations

import re

import pytest

from proxisante.economics.costs import parse_costs
from proxisante.economics.payments import (
    Rates,
    Volume,
    c2s_supplement,
    fee_for_service,
    fmt,
    fpmt,
    ipep,
    model,
    simulate_year,
)
from proxisante.economics.profile import ProfileError, age_bands, parse_profile

BANDS = ["0-6", "7-64", "65-74", "75-79", "80+"]


def profile(cells: dict[tuple[str, bool, bool], int | tuple[int, int, int]], acts=(), staff=None, **extra):
    """A profile from {(band, ald, c2s): patients or (patients, diabetics, unseen)}; missing cells are 0."""
    panel = []
    for band in BANDS:
        for ald in (False, True):
            for c2s in (False, True):
                value = cells.get((band, ald, c2s), 0)
                patients, diabetics, unseen = value if isinstance(value, tuple) else (value, 0, 0)
                panel.append({"age_band": band, "ald": ald, "c2s": c2s, "patients": patients,
                              "diabetics": diabetics, "unseen": unseen})  # fmt: skip
    return parse_profile({"year": 2025, "panel": panel, "acts": list(acts),
                          "staff": staff or [{"profession": "MG", "fte": 1.0}], **extra})  # fmt: skip


COSTS = parse_costs({"salaries": [{"profession": "MG", "gross_per_fte": 80000, "employer_charge_rate": 0.5}],
                     "premises": 30000})  # fmt: skip


def test_the_model_bands_are_the_rule_limits() -> None:
    assert age_bands() == BANDS


def test_fpmt_for_a_given_panel() -> None:
    p = profile({("0-6", False, False): 100, ("7-64", False, False): 1000, ("65-74", True, False): 200,
                 ("80+", False, False): 50, ("80+", True, False): 30})  # fmt: skip
    counts = [c.patients for c in p.panel]
    # 2025: 100 × 6 + 1000 × 5 + 200 × 46 (ALD < 80) + 50 × 46 (≥ 80) + 30 × 70 (≥ 80 with ALD)
    assert fpmt(p, Rates(2025), counts) == pytest.approx(600 + 5000 + 9200 + 2300 + 2100)
    # 2023: the 42 € rate before 2024-01-01
    assert fpmt(p, Rates(2023), counts) == pytest.approx(600 + 5000 + 8400 + 2100 + 2100)


def test_c2s_supplement_at_15_percent_gives_4_percent() -> None:
    assert c2s_supplement(0.15, Rates(2025)) == pytest.approx(0.04)
    assert c2s_supplement(0.05, Rates(2025)) == 0.0
    assert c2s_supplement(0.90, Rates(2025)) == pytest.approx(0.25)  # capped
    p = profile({("7-64", False, False): 850, ("7-64", False, True): 150})
    assert fpmt(p, Rates(2025), [c.patients for c in p.panel]) == pytest.approx(1000 * 5 * 1.04)


def test_g_before_and_after_2024_12_22_in_fee_for_service() -> None:
    p = profile({("7-64", False, False): 100}, acts=[{"code": "G", "acts_mt": 100}])
    assert fee_for_service(p, Rates(2025), Volume())["Actes — Médecin généraliste"] == pytest.approx(3000)
    expected_2024 = 100 * (356 * 26.5 + 10 * 30) / 366
    assert fee_for_service(p, Rates(2024), Volume())["Actes — Médecin généraliste"] == pytest.approx(expected_2024)
    assert fee_for_service(p, Rates(2023), Volume())["Actes — Médecin généraliste"] == pytest.approx(
        100 * (304 * 25 + 61 * 26.5) / 365
    )


def test_fmt_2026_for_a_given_panel() -> None:
    p = profile({("7-64", False, False): (1000, 0, 100), ("80+", True, False): 10, ("75-79", False, True): 50})
    lines = fmt(p, Rates(2026, values={"fmt.prevention_met_per_patient": 1.0}), [1.0] * len(p.panel))
    # 900 seen × 5 + 100 unseen × 5 + 10 × 100 (ALD ≥ 80) + 50 × 15 (75-79)
    assert lines["FMT — socle"] == pytest.approx(4500 + 500 + 1000 + 750)
    assert lines["FMT — majoration C2S"] == pytest.approx(50 * 10)
    assert lines["FMT — prévention"] == pytest.approx(1060 * 1 * 5)


def test_peps_forfait_for_a_given_panel() -> None:
    # Weights chosen so that the national mean weight is 1: the factor is the 96 € average itself.
    values = {
        "peps.age_weights": {"0-6": 1.0, "7-64": 1.0, "65-74": 1.0, "75-79": 1.0, "80+": 2.0},
        "peps.ald_weight": 2.0,
        "peps.c2s_weight": 1.5,
        "peps.reference_mix": {"age": {"0-6": 0, "7-64": 0.5, "65-74": 0.5, "75-79": 0, "80+": 0},
                               "ald": dict.fromkeys(BANDS, 0.0), "c2s": 0.0},
        "peps.poverty_supplement": 0.0,
        "peps.replaces_mt_forfaits": 1.0,
    }  # fmt: skip
    p = profile({("7-64", False, False): 100, ("80+", True, True): 10},
                acts=[{"code": "G", "acts_mt": 500, "acts_other": 40}, {"code": "AMK", "acts_mt": 10}])  # fmt: skip
    result = model("peps_all", p, COSTS, Rates(2025, values), Volume())
    # 100 × 96 + 10 × 96 × 2 (≥ 80) × 2 (ALD) × 1.5 (C2S) = 15,360; quality bonus 5 % → 16,128
    assert result.lines["Forfait PEPS"] == pytest.approx(16128)
    # Replaced acts: 500 G × 30 € = 15,000, cap +20 % = 18,000: not reached.
    assert result.lines["Écrêtement PEPS (plafond)"] == 0
    # Other patients' G (40 × 30) and the physiotherapist's acts (10 × 17.30) stay fee-for-service.
    assert result.lines["Actes — Médecin généraliste"] == pytest.approx(1200)
    assert result.lines["Actes — Masseur-kinésithérapeute"] == pytest.approx(173)
    assert result.lines["FPMT"] == 0 and result.lines["ROSP"] == 0
    # With fewer replaced acts the forfait is capped at 1.2 × 100 G × 30 € = 3,600.
    capped = profile({("7-64", False, False): 100, ("80+", True, True): 10}, acts=[{"code": "G", "acts_mt": 100}])
    lines = model("peps_all", capped, COSTS, Rates(2025, values), Volume()).lines
    assert lines["Forfait PEPS"] + lines["Écrêtement PEPS (plafond)"] == pytest.approx(3600)


def test_peps_variants_take_their_own_patients() -> None:
    p = profile({("7-64", False, False): (100, 10, 0), ("65-74", False, False): 50},
                acts=[{"code": "G", "acts_mt": 300, "acts_mt_65": 100, "acts_mt_diabetic": 40}])  # fmt: skip
    rates = Rates(2025, {"peps.replaces_mt_forfaits": 1.0})
    for key, replaced in (("peps_all", 300), ("peps_65", 100), ("peps_diabetics", 40)):
        lines = model(key, p, COSTS, rates, Volume()).lines
        assert lines["Actes — Médecin généraliste"] == pytest.approx((300 - replaced) * 30), key


def test_ipep_with_a_negative_gap_floored_at_zero() -> None:
    p = profile({("7-64", False, False): 300})
    values = {"ipep.spending_per_patient": 2000.0, "ipep.gap_ratio": -0.05, "ipep.growth_gap": 0.01,
              "ipep.quality_unscored": 1.0}  # fmt: skip
    # 50 % × [⅓ × max(0, −100) + ⅔ × max(0, 20)] = 6.67 € per patient × 300 patients
    assert ipep(p, Rates(2025, values), Volume()) == pytest.approx(300 * 0.5 * (2 / 3) * 20)
    values["ipep.growth_gap"] = -0.01
    assert ipep(p, Rates(2025, values), Volume()) == 0
    values.update({"ipep.gap_ratio": 0.03, "ipep.growth_gap": 0.0})
    assert ipep(p, Rates(2025, values), Volume()) == pytest.approx(300 * 0.5 * (1 / 3) * 60)


def test_result_margin_and_break_even() -> None:
    p = profile({("7-64", False, False): 1000}, acts=[{"code": "G", "acts_mt": 3000}])
    r = simulate_year(p, COSTS, 2025)["acte"]
    # 3,000 G × 30 + FPMT 1,000 × 5 + ROSP (940 × 60 % × 7 € × 1000/800) + Teulade 11.5 % × 80,000
    rosp = 940 * 0.6 * 7 * 1000 / 800
    assert r.revenue == pytest.approx(90000 + 5000 + rosp + 9200)
    assert r.cost == pytest.approx(80000 * 1.5 + 30000)
    assert r.result == pytest.approx(r.revenue - 150000)
    # Break-even: (costs − fixed revenue) / variable revenue per patient, per GP FTE (1 FTE here).
    assert float(r.break_even_per_gp_fte) == pytest.approx((150000 - 9200) / ((90000 + 5000 + rosp) / 1000))


def test_acte_model_switches_from_fpmt_to_fmt_in_2026() -> None:
    p = profile({("7-64", False, False): 1000}, acts=[{"code": "G", "acts_mt": 3000}])
    assert "FPMT" in simulate_year(p, COSTS, 2025)["acte"].lines
    lines_2026 = simulate_year(p, COSTS, 2026)["acte"].lines
    assert "FPMT" not in lines_2026 and "FMT — socle" in lines_2026


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["staff"].append({"profession": "IDE", "fte": -0.5}), "staff.1.fte"),
        (lambda d: d["acts"].append({"code": "XYZ", "acts_mt": 3}), "acts.1"),
        (lambda d: d.update(panel=[c for c in d["panel"] if c["age_band"] != "80+"]), "age band 80+ missing"),
        (lambda d: d["panel"][0].update(age_band="0-5"), "panel.0"),
        (lambda d: d["acts"].append({"code": "DEQP003", "acts_mt": 3}), "give the profession"),
        (lambda d: d["acts"][0].update(acts_mt_65=99), "cannot exceed"),
    ],
)
def test_bad_profiles_are_refused_naming_the_field(change, field) -> None:
    good = profile({("7-64", False, False): 10}, acts=[{"code": "G", "acts_mt": 10}]).model_dump()
    change(good)
    with pytest.raises(ProfileError, match=re.escape(field)):
        parse_profile(good)


def test_costs_must_cover_every_profession_of_the_staff() -> None:
    p = profile({("7-64", False, False): 10}, staff=[{"profession": "MG", "fte": 1}, {"profession": "IDE", "fte": 1}])
    with pytest.raises(ProfileError, match="aucune ligne de salaire pour la profession IDE"):
        COSTS.by_item(p)
    with pytest.raises(ProfileError, match=r"salaries\.0\.gross_per_fte"):
        parse_costs({"salaries": [{"profession": "MG", "gross_per_fte": -1, "employer_charge_rate": 0.4}]})

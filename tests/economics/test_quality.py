"""ROSP points and FMT prevention from the centre's measure results, against sums done by hand here."""

from __future__ import annotations

import pytest

from proxisante.economics.explain import describe
from proxisante.economics.payments import Rates, fmt, rosp
from proxisante.economics.profile import ProfileError
from proxisante.economics.quality import level_share, progression_share, rosp_from_measures
from proxisante.measures.definition import measure
from tests.economics.test_payments import profile

SCORING = {"below_intermediate": 0.0, "at_intermediate": 0.5, "at_target": 1.0}
ADULTS = {("7-64", False, False): 1000}


def test_level_share_against_the_objectives() -> None:
    # HbA1c objectives: intermediate 74 %, target 92 %
    assert level_share(0.60, 0.74, 0.92, SCORING, lower=False) == 0.0
    assert level_share(0.74, 0.74, 0.92, SCORING, lower=False) == 0.5
    assert level_share(0.83, 0.74, 0.92, SCORING, lower=False) == pytest.approx(0.75)  # halfway: 0.5 + 0.5 × 0.5
    assert level_share(0.95, 0.74, 0.92, SCORING, lower=False) == 1.0
    # lower is better: intermediate 30 %, target 20 %; 25 % is halfway
    assert level_share(0.25, 0.30, 0.20, SCORING, lower=True) == pytest.approx(0.75)
    assert level_share(0.35, 0.30, 0.20, SCORING, lower=True) == 0.0


def test_rosp_scores_the_measures_with_objectives_and_keeps_the_parameter_for_the_others() -> None:
    counts = [c.patients for c in profile(ADULTS).panel]
    flat = rosp(profile(ADULTS), Rates(2025), counts)
    assert flat == pytest.approx(940 * 0.6 * 7 * 1000 / 800)  # 4,935 €, no measures: the parameter
    # HbA1c 83/100 = 83 % → 0.75 × 30 = 22.5 points; flu ≥ 65 40/50 = 80 %, beyond its 75 % target → 20 points;
    # the 890 others × 0.6 = 534; 576.5 points × 7 € × 1000/800
    measured = profile(ADULTS, measures=[{"id": "rosp_diabetes_hba1c", "eligible": 100, "numerator": 83},
                                         {"id": "rosp_flu_65", "eligible": 50, "numerator": 40}])  # fmt: skip
    assert rosp(measured, Rates(2025), counts) == pytest.approx(576.5 * 7 * 1000 / 800)  # 5,044.375 €
    # a rate that is not reportable keeps the parameter for its points too
    small = profile(ADULTS, measures=[{"id": "rosp_diabetes_hba1c", "eligible": 3, "numerator": 3,
                                       "reportable": False}])  # fmt: skip
    assert rosp(small, Rates(2025), counts) == pytest.approx(flat)
    # the draws of rosp.achievement still move the 910 points not scored
    drawn = rosp(measured, Rates(2025, values={"rosp.achievement": 0.4}), counts)
    assert drawn == pytest.approx((22.5 + 20 + 890 * 0.4) * 7 * 1000 / 800)


def test_progression_share_from_the_previous_rate() -> None:
    hba1c = measure("rosp_diabetes_hba1c").objectives  # intermediate 74 %, target 92 %
    rule = {"weight": 1.0, "only_below_intermediate": True}
    # from 50 % to 68 %: 0.18 of the 0.42 between the previous rate and the target
    assert progression_share(0.68, 0.50, hba1c, rule, lower=False) == pytest.approx(0.18 / 0.42)
    assert progression_share(0.68, None, hba1c, rule, lower=False) == 0.0  # no previous year
    assert progression_share(0.80, 0.76, hba1c, rule, lower=False) == 0.0  # was already above the intermediate
    assert progression_share(0.45, 0.50, hba1c, rule, lower=False) == 0.0  # went down
    assert progression_share(0.68, 0.50, hba1c, {**rule, "weight": 0.5}, lower=False) == pytest.approx(0.09 / 0.42)
    long_half_life = measure("rosp_benzo_long_half_life_75").objectives  # lower is better: 10 % → 5 %
    assert progression_share(0.14, 0.20, long_half_life, rule, lower=True) == pytest.approx(0.06 / 0.15)


def test_rosp_pays_the_better_of_level_and_progression() -> None:
    counts = [c.patients for c in profile(ADULTS).panel]
    # HbA1c 68 % (below 74 %: level 0) after 50 %: progression 0.18 / 0.42 × 30 = 12.857 points
    rising = profile(ADULTS, measures=[{"id": "rosp_diabetes_hba1c", "eligible": 100, "numerator": 68,
                                        "previous_rate": 0.5}])  # fmt: skip
    assert rosp(rising, Rates(2025), counts) == pytest.approx((0.18 / 0.42 * 30 + 910 * 0.6) * 7 * 1000 / 800)
    # 80 % after 50 %: level 0.5 + 0.5 × 6/18 = 0.667 < progression 0.30 / 0.42 = 0.714
    higher = profile(ADULTS, measures=[{"id": "rosp_diabetes_hba1c", "eligible": 100, "numerator": 80,
                                        "previous_rate": 0.5}])  # fmt: skip
    assert rosp(higher, Rates(2025), counts) == pytest.approx((0.30 / 0.42 * 30 + 910 * 0.6) * 7 * 1000 / 800)
    scored = rosp_from_measures(higher, {"rosp_diabetes_hba1c": 30}, SCORING, {"weight": 1.0})
    assert scored.scored[0].progression


def test_fmt_prevention_from_the_measures() -> None:
    shares = [1.0] * 20
    flat = fmt(profile(ADULTS), Rates(2026), shares)["FMT — prévention"]
    assert flat == pytest.approx(1000 * 1.0 * 5)  # 1 criterion per patient (parameter) × 5 €
    # 2 of the 15 criteria measured: 100 + 50 patients meet them → 150 × 5 € = 750 €;
    # the 13 others at 1.0 × 13/15 criteria per patient: 1000 × 13/15 × 5 € = 4,333.33 €
    measured = profile(ADULTS, measures=[{"id": "rosp_flu_65", "eligible": 200, "numerator": 100},
                                         {"id": "rosp_colorectal_screening", "eligible": 300, "numerator": 50},
                                         {"id": "rosp_diabetes_hba1c", "eligible": 10, "numerator": 9}])  # fmt: skip
    assert fmt(measured, Rates(2026), shares)["FMT — prévention"] == pytest.approx(750 + 1000 * 13 / 15 * 5)


def test_describe_says_which_source_is_used() -> None:
    flat = " ".join(describe(profile(ADULTS), 2026))
    assert "« Part des points ROSP obtenus »" in flat and "profil sans résultats de mesures" in flat
    measured = profile(ADULTS, measures=[{"id": "rosp_diabetes_hba1c", "eligible": 100, "numerator": 83},
                                         {"id": "fmt_hpv", "eligible": 20, "numerator": 5}])  # fmt: skip
    text = " ".join(describe(measured, 2026))
    assert "30 points sur 940 calculés depuis les mesures du centre" in text
    assert "22.5/30 pts" in text and "910 autres au paramètre « Part des points ROSP obtenus »" in text
    assert "1 critères sur 15 comptés depuis les mesures" in text and "0,01 critère rempli par patient" in text
    assert "(1 × 14/15, non confirmé)" in text


def test_bad_measure_lines_are_refused() -> None:
    with pytest.raises(ProfileError, match="measure 'rosp_typo' unknown"):
        profile(ADULTS, measures=[{"id": "rosp_typo", "eligible": 1, "numerator": 1}])
    with pytest.raises(ProfileError, match="numerator cannot exceed eligible"):
        profile(ADULTS, measures=[{"id": "rosp_flu_65", "eligible": 1, "numerator": 2}])
    with pytest.raises(ProfileError, match="given twice"):
        profile(ADULTS, measures=[{"id": "rosp_flu_65", "eligible": 1, "numerator": 1}] * 2)


def test_every_measure_with_rosp_points_is_a_rosp_measure_with_objectives() -> None:
    from proxisante.economics.catalogue import parameter
    from proxisante.measures.definition import library

    for name in parameter("rosp.measure_points").values[0][1]:
        measure = library()[name]
        assert "ROSP" in measure.programme and measure.objectives.target is not None, name

"""rosp_flu_at_risk: MT patients aged 16-64 with an ALD of the flu list (in force on 2025-12-31) or >= 4 days
of bronchodilator prescriptions in the last 12 months, vaccinated against flu in 2025. By hand."""

from tests.lib.measure_fixture import Centre, members

SALBUTAMOL, BECLOMETASONE, FLU = "R03AC02", "R03BA01", "J07BB02"


def test_memberships() -> None:
    c = Centre()
    c.patient("diabetic_ald_vaccinated", "1970-05-05", ald=("E11.9",), drugs=[(FLU, "2025-11-01")])
    c.patient("cancer_ald_not_vaccinated", "1972-03-03", ald=("C50.9",))
    c.patient("psychiatric_ald_only", "1980-01-01", ald=("F32.9",), drugs=[(FLU, "2025-11-01")])
    four_days = [(SALBUTAMOL, d) for d in ("2025-01-10", "2025-04-10", "2025-07-10", "2025-10-10")]
    c.patient("asthma_four_prescriptions", "1990-09-09", sex="M", drugs=[*four_days, (FLU, "2025-10-20")])
    c.patient("asthma_three_prescriptions", "1990-09-09", drugs=[*four_days[:3], (FLU, "2025-10-20")])
    c.patient("bronchodilators_in_2024", "1985-01-01", drugs=[(SALBUTAMOL, f"2024-0{m}-01") for m in (2, 4, 6, 8)])
    c.patient("inhaled_steroid_only", "1985-01-01", drugs=[(BECLOMETASONE, d) for _, d in four_days])
    c.patient("aged_65_with_ald", "1960-06-01", ald=("I50.9",), drugs=[(FLU, "2025-11-01")])
    c.patient("turns_16_on_reference_day", "2009-12-31", ald=("E10.9",))
    c.patient("still_15", "2010-01-01", ald=("E10.9",))
    c.patient("vaccinated_last_campaign", "1975-02-02", ald=("J44.9",), drugs=[(FLU, "2024-11-15")])
    c.patient("not_my_patient", "1970-01-01", mt=None, ald=("E11.9",), drugs=[(FLU, "2025-11-01")])
    c.patient("diabetes_coded_without_ald", "1970-01-01", conditions=[("E11.9", "2025-02-01")])
    got = members(c, "rosp_flu_at_risk", "2025")
    assert got["initial_population"] == {
        "diabetic_ald_vaccinated",
        "cancer_ald_not_vaccinated",
        "psychiatric_ald_only",
        "asthma_four_prescriptions",
        "asthma_three_prescriptions",
        "bronchodilators_in_2024",
        "inhaled_steroid_only",
        "turns_16_on_reference_day",
        "vaccinated_last_campaign",
        "diabetes_coded_without_ald",
    }
    assert got["denominator"] == {
        "diabetic_ald_vaccinated",
        "cancer_ald_not_vaccinated",
        "asthma_four_prescriptions",
        "turns_16_on_reference_day",
        "vaccinated_last_campaign",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"diabetic_ald_vaccinated", "asthma_four_prescriptions"}

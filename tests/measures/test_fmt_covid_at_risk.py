"""fmt_covid_at_risk: MT patients aged 18-64 with an ALD of the Covid list in force on 2025-12-31 or >= 4
days of bronchodilator prescriptions in the last 12 months; numerator: a Covid-19 vaccine in 2025. By hand."""

from tests.lib.measure_fixture import Centre, members

TIOTROPIUM, COVID = "R03BB04", "J07BN01"


def test_memberships() -> None:
    c = Centre()
    c.patient("psychiatric_ald_vaccinated", "1980-01-01", ald=("F20.9",), drugs=[(COVID, "2025-10-25")])
    c.patient("arteriopathy_ald", "1970-01-01", sex="M", ald=("I70.2",))
    c.patient("scoliosis_ald_not_listed", "1990-01-01", ald=("M41.1",), drugs=[(COVID, "2025-10-25")])
    copd = [(TIOTROPIUM, d) for d in ("2025-01-05", "2025-03-05", "2025-06-05", "2025-09-05")]
    c.patient("copd_four_prescriptions", "1962-02-02", drugs=[*copd, (COVID, "2025-11-11")])
    c.patient("turns_18_on_reference_day", "2007-12-31", ald=("E10.9",), drugs=[(COVID, "2025-11-11")])
    c.patient("still_17", "2008-01-01", ald=("E10.9",), drugs=[(COVID, "2025-11-11")])
    c.patient("aged_65_with_ald", "1960-01-01", ald=("E11.9",), drugs=[(COVID, "2025-11-11")])
    c.patient("vaccinated_2024", "1975-01-01", ald=("C50.9",), drugs=[(COVID, "2024-10-25")])
    c.patient("not_my_patient", "1975-01-01", mt=None, ald=("C50.9",), drugs=[(COVID, "2025-10-25")])
    got = members(c, "fmt_covid_at_risk", "2025")
    assert got["initial_population"] == {
        "psychiatric_ald_vaccinated",
        "arteriopathy_ald",
        "scoliosis_ald_not_listed",
        "copd_four_prescriptions",
        "turns_18_on_reference_day",
        "vaccinated_2024",
    }
    assert got["denominator"] == {
        "psychiatric_ald_vaccinated",
        "arteriopathy_ald",
        "copd_four_prescriptions",
        "turns_18_on_reference_day",
        "vaccinated_2024",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"psychiatric_ald_vaccinated", "copd_four_prescriptions", "turns_18_on_reference_day"}

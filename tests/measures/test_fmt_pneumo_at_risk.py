"""fmt_pneumo_at_risk: MT adults (18+) with an ALD of the pneumococcal list in force on 2025-12-31 or >= 4
days of bronchodilator prescriptions in the last 12 months; numerator: a conjugate pneumococcal vaccine
(ATC J07AL02) at any date up to 2025-12-31. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

PCV, SALMETEROL_FLUTICASONE = "J07AL02", "R03AK06"


def test_memberships() -> None:
    c = Centre()
    c.patient("rheumatoid_vaccinated_2021", "1960-01-01", ald=("M06.9",), drugs=[(PCV, "2021-03-03")])
    c.patient("diabetic_not_vaccinated", "1955-01-01", sex="M", ald=("E11.9",))
    c.patient("polysaccharide_only", "1955-01-01", ald=("C34.9",), drugs=[("J07AL01", "2024-03-03")])
    c.patient("coronary_ald_not_listed", "1950-01-01", ald=("I25.9",), drugs=[(PCV, "2025-03-03")])
    asthma = [(SALMETEROL_FLUTICASONE, d) for d in ("2025-02-01", "2025-05-01", "2025-08-01", "2025-11-01")]
    c.patient("asthma_vaccinated_on_reference_day", "1990-01-01", drugs=[*asthma, (PCV, "2025-12-31")])
    c.patient("vaccinated_after_reference_day", "1990-01-01", ald=("G35",), drugs=[(PCV, "2026-01-02")])
    c.patient("aged_85_with_ald", "1940-01-01", ald=("N18.5",), drugs=[(PCV, "2023-10-10")])
    c.patient("still_17", "2008-01-01", ald=("E10.9",), drugs=[(PCV, "2025-03-03")])
    c.patient("not_my_patient", "1960-01-01", mt=None, ald=("M06.9",), drugs=[(PCV, "2025-03-03")])
    got = members(c, "fmt_pneumo_at_risk", "2025")
    assert got["initial_population"] == {
        "rheumatoid_vaccinated_2021",
        "diabetic_not_vaccinated",
        "polysaccharide_only",
        "coronary_ald_not_listed",
        "asthma_vaccinated_on_reference_day",
        "vaccinated_after_reference_day",
        "aged_85_with_ald",
    }
    assert got["denominator"] == {
        "rheumatoid_vaccinated_2021",
        "diabetic_not_vaccinated",
        "polysaccharide_only",
        "asthma_vaccinated_on_reference_day",
        "vaccinated_after_reference_day",
        "aged_85_with_ald",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "rheumatoid_vaccinated_2021",
        "asthma_vaccinated_on_reference_day",
        "aged_85_with_ald",
    }

"""vax_zoster_65: MT patients aged 65+ on 2025-12-31 with the recombinant zoster vaccine (J07BK03) on two
distinct days up to the reference date. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

SHINGRIX = "J07BK03"


def test_memberships() -> None:
    c = Centre()
    c.patient("two_doses", "1955-01-01", drugs=[(SHINGRIX, "2025-01-10"), (SHINGRIX, "2025-03-12")])
    c.patient("first_dose_only", "1950-01-01", sex="M", drugs=[(SHINGRIX, "2025-11-10")])
    c.patient("doses_in_2024", "1945-01-01", drugs=[(SHINGRIX, "2024-05-05"), (SHINGRIX, "2024-07-07")])
    c.patient("live_vaccine", "1945-01-01", drugs=[("J07BK02", "2020-05-05")])
    c.patient("turns_65_on_reference_day", "1960-12-31", drugs=[(SHINGRIX, "2025-10-01"), (SHINGRIX, "2025-12-31")])
    c.patient("immunocompromised_50", "1975-01-01", ald=("C91.1",), drugs=[(SHINGRIX, "2025-01-10")])
    c.patient("dead", "1940-01-01", died="2025-03-01", drugs=[(SHINGRIX, "2024-05-05"), (SHINGRIX, "2024-07-07")])
    got = members(c, "vax_zoster_65", "2025")
    aged_65 = {"two_doses", "first_dose_only", "doses_in_2024", "live_vaccine", "turns_65_on_reference_day"}
    assert got["initial_population"] == aged_65
    assert got["denominator"] == aged_65
    assert got["exclusions"] == set()
    assert got["numerator"] == {"two_doses", "doses_in_2024", "turns_65_on_reference_day"}

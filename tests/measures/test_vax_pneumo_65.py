"""vax_pneumo_65: MT patients aged 65+ on 2025-12-31 with a conjugate pneumococcal vaccine (J07AL02) at any
date up to the reference date. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

PCV = "J07AL02"


def test_memberships() -> None:
    c = Centre()
    c.patient("pcv_2025", "1950-01-01", drugs=[(PCV, "2025-06-06")])
    c.patient("pcv_2021", "1945-01-01", sex="M", drugs=[(PCV, "2021-01-01")])
    c.patient("polysaccharide_only", "1945-01-01", drugs=[("J07AL01", "2022-02-02")])
    c.patient("pcv_after_reference_day", "1945-01-01", drugs=[(PCV, "2026-01-01")])
    c.patient("turns_65_on_reference_day", "1960-12-31", drugs=[(PCV, "2025-12-31")])
    c.patient("still_64", "1961-01-01", drugs=[(PCV, "2025-06-06")])
    c.patient("left_in_2024", "1945-01-01", mt_until="2024-12-31", drugs=[(PCV, "2023-06-06")])
    got = members(c, "vax_pneumo_65", "2025")
    aged_65 = {"pcv_2025", "pcv_2021", "polysaccharide_only", "pcv_after_reference_day", "turns_65_on_reference_day"}
    assert got["initial_population"] == aged_65
    assert got["denominator"] == aged_65
    assert got["exclusions"] == set()
    assert got["numerator"] == {"pcv_2025", "pcv_2021", "turns_65_on_reference_day"}

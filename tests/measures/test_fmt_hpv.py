"""fmt_hpv: MT patients aged 16-19 on 2025-12-31, girls and boys, with HPV vaccines (ATC J07BM) on two
distinct days up to the reference date. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

HPV = "J07BM03"


def test_memberships() -> None:
    c = Centre()
    c.patient("girl_two_doses", "2009-04-04", drugs=[(HPV, "2021-05-05"), (HPV, "2021-12-05")])
    c.patient("boy_two_doses", "2008-06-06", sex="M", drugs=[(HPV, "2021-07-07"), (HPV, "2022-02-02")])
    c.patient("boy_one_dose", "2007-06-06", sex="M", drugs=[(HPV, "2021-07-07")])
    c.patient("catch_up_three_doses", "2006-12-31", drugs=[(HPV, "2022-01-10"), (HPV, "2022-03-10"),
                                                           (HPV, "2022-07-10")])  # fmt: skip
    c.patient("turns_16_on_reference_day", "2009-12-31", drugs=[(HPV, "2025-01-15"), (HPV, "2025-12-31")])
    c.patient("second_dose_after_reference_day", "2009-01-01", drugs=[(HPV, "2025-06-15"), (HPV, "2026-01-15")])
    c.patient("never_vaccinated", "2008-01-01")
    c.patient("still_15", "2010-01-01", drugs=[(HPV, "2021-05-05"), (HPV, "2021-12-05")])
    c.patient("turned_20", "2005-12-31", drugs=[(HPV, "2021-05-05"), (HPV, "2021-12-05")])
    c.patient("not_my_patient", "2008-01-01", mt=None, drugs=[(HPV, "2021-05-05"), (HPV, "2021-12-05")])
    got = members(c, "fmt_hpv", "2025")
    aged_16_19 = {
        "girl_two_doses",
        "boy_two_doses",
        "boy_one_dose",
        "catch_up_three_doses",
        "turns_16_on_reference_day",
        "second_dose_after_reference_day",
        "never_vaccinated",
    }
    assert got["initial_population"] == aged_16_19
    assert got["denominator"] == aged_16_19
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "girl_two_doses",
        "boy_two_doses",
        "catch_up_three_doses",
        "turns_16_on_reference_day",
    }

"""fmt_covid_65: MT patients aged 65+ on 2025-12-31 with a Covid-19 vaccine (ATC J07BN or the former
J07BX03) in 2025. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("old_code_j07bx03", "1950-01-01", drugs=[("J07BX03", "2025-10-20")])
    c.patient("new_code_j07bn01", "1945-01-01", sex="M", drugs=[("J07BN01", "2025-11-03")])
    c.patient("window_first_day", "1945-01-01", drugs=[("J07BN01", "2025-01-01")])
    c.patient("autumn_2024_only", "1945-01-01", drugs=[("J07BN01", "2024-12-31")])
    c.patient("flu_vaccine_only", "1945-01-01", drugs=[("J07BB02", "2025-10-20")])
    c.patient("turns_65_on_reference_day", "1960-12-31", drugs=[("J07BN01", "2025-12-31")])
    c.patient("still_64", "1961-01-01", drugs=[("J07BN01", "2025-10-20")])
    c.patient("not_my_patient", "1945-01-01", mt=None, drugs=[("J07BN01", "2025-10-20")])
    c.patient("mt_from_december", "1945-01-01", mt_since="2025-12-01", drugs=[("J07BX03", "2025-10-20")])
    got = members(c, "fmt_covid_65", "2025")
    aged_65 = {
        "old_code_j07bx03",
        "new_code_j07bn01",
        "window_first_day",
        "autumn_2024_only",
        "flu_vaccine_only",
        "turns_65_on_reference_day",
        "mt_from_december",
    }
    assert got["initial_population"] == aged_65
    assert got["denominator"] == aged_65
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "old_code_j07bx03",
        "new_code_j07bn01",
        "window_first_day",
        "turns_65_on_reference_day",
        "mt_from_december",
    }

"""rosp_flu_65: MT patients aged 65 or more on the reference date with a flu vaccine (ATC J07BB) in the
period (2025-01-01 to 2025-12-31). Memberships below are written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("november_2025", "1950-03-01", drugs=[("J07BB02", "2025-11-05")])
    c.patient("first_day", "1955-01-01", sex="M", drugs=[("J07BB02", "2025-01-01")])
    c.patient("last_campaign_only", "1950-06-15", drugs=[("J07BB02", "2024-12-31")])
    c.patient("turns_65_on_reference_day", "1960-12-31", drugs=[("J07BB02", "2025-10-20")])
    c.patient("still_64", "1961-01-01", drugs=[("J07BB02", "2025-10-20")])
    c.patient("cip13_only", "1945-02-02", drugs=[("3400932586202", "2025-11-02")])
    c.patient("covid_vaccine_only", "1948-04-04", drugs=[("J07BX03", "2025-10-15")])
    c.patient("after_reference_day", "1944-07-07", drugs=[("J07BB02", "2026-01-10")])
    c.patient("not_my_patient", "1950-01-01", mt=None, drugs=[("J07BB02", "2025-11-05")])
    c.patient("left_in_june", "1950-01-01", mt_until="2025-06-30", drugs=[("J07BB02", "2025-01-15")])
    c.patient("dead", "1940-01-01", died="2025-12-01", drugs=[("J07BB02", "2025-10-16")])
    got = members(c, "rosp_flu_65", "2025")
    aged_65_and_mine = {
        "november_2025",
        "first_day",
        "last_campaign_only",
        "turns_65_on_reference_day",
        "cip13_only",
        "covid_vaccine_only",
        "after_reference_day",
    }
    assert got["initial_population"] == aged_65_and_mine
    assert got["denominator"] == aged_65_and_mine
    assert got["exclusions"] == set()
    # A record carrying only the pack's CIP13 is not matched: the value set lists ATC classes only.
    assert got["numerator"] == {"november_2025", "first_day", "turns_65_on_reference_day"}

"""rosp_benzo_long_half_life_75: MT patients aged 75+ on 2025-12-31; numerator: a long half-life
benzodiazepine (atc.csv half_life=long) prescribed in 2025. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("diazepam_2025", "1945-03-03", drugs=[("N05BA01", "2025-04-01", "2025-04-30")])
    c.patient("bromazepam_2024_only", "1940-01-01", sex="M", drugs=[("N05BA08", "2024-11-01", "2024-12-31")])
    c.patient("oxazepam_short_half_life", "1940-01-01", drugs=[("N05BA04", "2025-04-01", "2025-06-30")])
    c.patient("nitrazepam_hypnotic", "1935-01-01", drugs=[("N05CD02", "2025-12-31", "2026-01-27")])
    c.patient("estazolam_undecided", "1935-01-01", drugs=[("N05CD04", "2025-02-01", "2025-02-28")])
    c.patient("turns_75_on_reference_day", "1950-12-31", drugs=[("N05BA11", "2025-01-01", "2025-01-30")])
    c.patient("still_74", "1951-01-01", drugs=[("N05BA11", "2025-01-01", "2025-01-30")])
    c.patient("no_benzodiazepine", "1930-01-01", drugs=[("N06AB06", "2025-01-01", "2025-03-31")])
    c.patient("dead", "1930-01-01", died="2025-07-01", drugs=[("N05BA05", "2025-01-01", "2025-03-31")])
    c.patient("not_my_patient", "1930-01-01", mt=None, drugs=[("N05BA05", "2025-01-01", "2025-03-31")])
    got = members(c, "rosp_benzo_long_half_life_75", "2025")
    aged_75 = {
        "diazepam_2025",
        "bromazepam_2024_only",
        "oxazepam_short_half_life",
        "nitrazepam_hypnotic",
        "estazolam_undecided",
        "turns_75_on_reference_day",
        "no_benzodiazepine",
    }
    assert got["initial_population"] == aged_75
    assert got["denominator"] == aged_75
    assert got["exclusions"] == set()
    assert got["numerator"] == {"diazepam_2025", "nitrazepam_hypnotic", "turns_75_on_reference_day"}

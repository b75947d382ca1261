"""rosp_cervical_screening: MT women aged 25-65 with a cervical cytology (NABM 0013 or CCAM JKQX...) since
2023-01-01 or an HPV test (NABM 4127, 0024) since 2021-01-01, reference date 2025-12-31. By hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("cytology_nabm", "1998-03-03", labs=[("0013", "2024-02-02")])
    c.patient("cytology_ccam", "1996-05-05", procedures=[("JKQX147", "2023-01-01")])
    c.patient("cytology_too_old", "1985-05-05", labs=[("0013", "2022-12-31")])
    c.patient("hpv_four_years_ago", "1980-07-07", labs=[("4127", "2021-01-01")])
    c.patient("hpv_too_old", "1980-07-07", labs=[("4127", "2020-12-31")])
    c.patient("hpv_anatomopathology", "1970-01-01", labs=[("0024", "2025-06-06")])
    c.patient("sampling_only", "1975-09-09", procedures=[("JKHD001", "2025-04-04")])
    c.patient("turns_25_on_reference_day", "2000-12-31")
    c.patient("still_24", "2001-01-01", labs=[("0013", "2025-03-03")])
    c.patient("aged_65", "1960-01-01", labs=[("4127", "2022-02-02")])
    c.patient("turned_66", "1959-12-31", labs=[("4127", "2022-02-02")])
    c.patient("man", "1980-01-01", sex="M", labs=[("4127", "2025-02-02")])
    c.patient("dead", "1980-01-01", died="2025-11-11", labs=[("0013", "2025-02-02")])
    got = members(c, "rosp_cervical_screening", "2025")
    women_25_65 = {
        "cytology_nabm",
        "cytology_ccam",
        "cytology_too_old",
        "hpv_four_years_ago",
        "hpv_too_old",
        "hpv_anatomopathology",
        "sampling_only",
        "turns_25_on_reference_day",
        "aged_65",
    }
    assert got["initial_population"] == women_25_65
    assert got["denominator"] == women_25_65
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "cytology_nabm",
        "cytology_ccam",
        "hpv_four_years_ago",
        "hpv_anatomopathology",
        "aged_65",
    }

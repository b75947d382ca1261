"""rosp_breast_screening: MT women aged 50-74 with a mammography (CCAM QEQK004, QEQK001, QEQK005) in the
two years ending 2025-12-31 (from 2024-01-01). Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("screened_2024", "1960-04-04", procedures=[("QEQK004", "2024-05-10")])
    c.patient("window_first_day", "1965-01-01", procedures=[("QEQK004", "2024-01-01")])
    c.patient("day_before_window", "1965-01-01", procedures=[("QEQK004", "2023-12-31")])
    c.patient("bilateral_diagnostic", "1958-08-08", procedures=[("QEQK001", "2025-03-03")])
    c.patient("breast_ultrasound_only", "1958-08-08", procedures=[("QEQM001", "2025-03-03")])
    c.patient("turns_50_on_reference_day", "1975-12-31", procedures=[("QEQK004", "2025-12-31")])
    c.patient("still_49", "1976-01-01", procedures=[("QEQK004", "2025-06-01")])
    c.patient("aged_74", "1951-01-01")
    c.patient("turned_75", "1950-12-31", procedures=[("QEQK004", "2025-02-01")])
    c.patient("man", "1960-01-01", sex="M", procedures=[("QEQK004", "2025-02-01")])
    c.patient("not_my_patient", "1960-01-01", mt=None, procedures=[("QEQK004", "2025-02-01")])
    c.patient("mt_of_colleague", "1960-01-01", mt=2, procedures=[("QEQK005", "2025-02-01")])
    got = members(c, "rosp_breast_screening", "2025")
    women_50_74 = {
        "screened_2024",
        "window_first_day",
        "day_before_window",
        "bilateral_diagnostic",
        "breast_ultrasound_only",
        "turns_50_on_reference_day",
        "aged_74",
        "mt_of_colleague",
    }
    assert got["initial_population"] == women_50_74
    assert got["denominator"] == women_50_74
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "screened_2024",
        "window_first_day",
        "bilateral_diagnostic",
        "turns_50_on_reference_day",
        "mt_of_colleague",
    }

"""rosp_aspirin_low_dose: patients with an antiplatelet (ATC B01AC) in the year who have antiplatelet aspirin
(B01AC06) in the year; analgesic aspirin (N02BA01) counts nowhere. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("aspirin", "1950-01-01", drugs=[("B01AC06", "2025-03-01")])
    c.patient("clopidogrel", "1950-01-01", sex="M", drugs=[("B01AC04", "2025-03-01")])
    c.patient("dual_prasugrel", "1960-01-01", sex="M", drugs=[("B01AC06", "2025-03-01"), ("B01AC22", "2025-03-01")])
    c.patient("analgesic_aspirin", "1960-01-01", drugs=[("N02BA01", "2025-03-01")])
    c.patient("analgesic_and_clopidogrel", "1960-01-01", drugs=[("N02BA01", "2025-03-01"), ("B01AC04", "2025-06-01")])
    c.patient("aspirin_2024_ticagrelor", "1960-01-01", drugs=[("B01AC06", "2024-12-31"), ("B01AC24", "2025-01-01")])
    c.patient("aspirin_window_end", "1960-01-01", drugs=[("B01AC06", "2025-12-31")])
    c.patient("not_my_patient", "1950-01-01", mt=None, drugs=[("B01AC06", "2025-03-01")])
    c.patient("dead", "1940-01-01", died="2025-03-02", drugs=[("B01AC06", "2025-03-01")])
    got = members(c, "rosp_aspirin_low_dose", "2025")
    assert got["initial_population"] == {
        "aspirin",
        "clopidogrel",
        "dual_prasugrel",
        "analgesic_aspirin",
        "analgesic_and_clopidogrel",
        "aspirin_2024_ticagrelor",
        "aspirin_window_end",
    }
    assert got["denominator"] == {
        "aspirin",
        "clopidogrel",
        "dual_prasugrel",
        "analgesic_and_clopidogrel",
        "aspirin_2024_ticagrelor",
        "aspirin_window_end",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"aspirin", "dual_prasugrel", "aspirin_window_end"}

"""rosp_diabetes_statin_men: men aged 50 or more on the reference date, treated in the year by antidiabetics and
antihypertensives, with a statin (C10AA, C10BA, C10BX) in the year. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

TREATED = [("A10BA02", "2025-02-01"), ("C09AA05", "2025-02-01")]


def test_memberships() -> None:
    c = Centre()
    c.patient("turns_50_on_ref", "1975-12-31", sex="M", drugs=[*TREATED, ("C10AA05", "2025-02-01")])
    c.patient("aged_49", "1976-01-01", sex="M", drugs=[*TREATED, ("C10AA05", "2025-02-01")])
    c.patient("statin_ezetimibe", "1950-01-01", sex="M", drugs=[*TREATED, ("C10BA02", "2025-06-01")])
    c.patient("no_statin", "1950-01-01", sex="M", drugs=TREATED)
    c.patient("ezetimibe_only", "1950-01-01", sex="M", drugs=[*TREATED, ("C10AX09", "2025-06-01")])
    c.patient("statin_2024", "1950-01-01", sex="M", drugs=[*TREATED, ("C10AA07", "2024-11-01")])
    c.patient(
        "no_antihypertensive", "1950-01-01", sex="M", drugs=[("A10BA02", "2025-02-01"), ("C10AA05", "2025-02-01")]
    )
    c.patient("woman_70", "1955-01-01", sex="F", drugs=[*TREATED, ("C10AA05", "2025-02-01")])
    c.patient("dead", "1945-01-01", sex="M", died="2025-12-30", drugs=[*TREATED, ("C10AA05", "2025-02-01")])
    got = members(c, "rosp_diabetes_statin_men", "2025")
    assert got["initial_population"] == {
        "turns_50_on_ref",
        "statin_ezetimibe",
        "no_statin",
        "ezetimibe_only",
        "statin_2024",
        "no_antihypertensive",
    }
    assert got["denominator"] == {"turns_50_on_ref", "statin_ezetimibe", "no_statin", "ezetimibe_only", "statin_2024"}
    assert got["exclusions"] == set()
    assert got["numerator"] == {"turns_50_on_ref", "statin_ezetimibe"}

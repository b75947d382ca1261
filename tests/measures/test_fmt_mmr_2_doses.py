"""fmt_mmr_2_doses: MT children aged 2 (completed years) on 2025-12-31 with MMR or MMRV vaccines on two
distinct days up to the reference date. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

MMR, MMRV = "J07BD52", "J07BD54"


def test_memberships() -> None:
    c = Centre()
    c.patient("two_doses", "2023-03-01", drugs=[(MMR, "2024-03-05"), (MMR, "2024-08-01")])
    c.patient("one_dose", "2023-05-01", sex="M", drugs=[(MMR, "2024-05-10")])
    c.patient("second_dose_mmrv", "2023-06-01", drugs=[(MMR, "2024-06-10"), (MMRV, "2024-11-20")])
    c.patient("same_day_twice", "2023-07-01", drugs=[(MMR, "2024-07-10"), (MMR, "2024-07-10")])
    c.patient("turns_2_on_reference_day", "2023-12-31", sex="M", drugs=[(MMR, "2024-12-31"), (MMR, "2025-06-01")])
    c.patient("second_dose_after_reference_day", "2023-02-01", drugs=[(MMR, "2024-02-10"), (MMR, "2026-01-05")])
    c.patient("measles_other_vaccine", "2023-04-01", drugs=[("J07CA09", "2024-04-10"), ("J07CA09", "2024-09-10")])
    c.patient("turned_3", "2022-12-31", drugs=[(MMR, "2023-12-31"), (MMR, "2024-06-01")])
    c.patient("still_1", "2024-01-01", drugs=[(MMR, "2025-01-02")])
    c.patient("no_medecin_traitant", "2023-03-01", mt=None, drugs=[(MMR, "2024-03-05"), (MMR, "2024-08-01")])
    got = members(c, "fmt_mmr_2_doses", "2025")
    aged_2 = {
        "two_doses",
        "one_dose",
        "second_dose_mmrv",
        "same_day_twice",
        "turns_2_on_reference_day",
        "second_dose_after_reference_day",
        "measles_other_vaccine",
    }
    assert got["initial_population"] == aged_2
    assert got["denominator"] == aged_2
    assert got["exclusions"] == set()
    assert got["numerator"] == {"two_doses", "second_dose_mmrv", "turns_2_on_reference_day"}

"""fmt_meningococcal_c: MT children aged 2 on 2025-12-31 with meningococcal C or ACWY conjugate vaccines
(J07AH07, J07AH08) on two distinct days up to the reference date. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

MENC, ACWY, MENB = "J07AH07", "J07AH08", "J07AH09"


def test_memberships() -> None:
    c = Centre()
    c.patient("menc_5_and_12_months", "2023-02-01", drugs=[(MENC, "2023-07-01"), (MENC, "2024-02-05")])
    c.patient("menc_then_acwy", "2023-03-01", sex="M", drugs=[(MENC, "2023-08-01"), (ACWY, "2024-03-05")])
    c.patient("menc_once", "2023-04-01", drugs=[(MENC, "2023-09-01")])
    c.patient("menc_and_menb", "2023-05-01", drugs=[(MENC, "2023-10-01"), (MENB, "2024-05-05")])
    c.patient("late_start_one_dose", "2023-06-01", drugs=[(ACWY, "2024-09-09")])
    c.patient("turns_2_on_reference_day", "2023-12-31", drugs=[(ACWY, "2024-06-30"), (ACWY, "2024-12-31")])
    c.patient("turned_3", "2022-12-31", drugs=[(MENC, "2023-05-31"), (MENC, "2023-12-31")])
    c.patient("no_medecin_traitant", "2023-02-01", mt=None, drugs=[(MENC, "2023-07-01"), (MENC, "2024-02-05")])
    got = members(c, "fmt_meningococcal_c", "2025")
    aged_2 = {
        "menc_5_and_12_months",
        "menc_then_acwy",
        "menc_once",
        "menc_and_menb",
        "late_start_one_dose",
        "turns_2_on_reference_day",
    }
    assert got["initial_population"] == aged_2
    assert got["denominator"] == aged_2
    assert got["exclusions"] == set()
    # A first dose after 12 months of age is enough by the calendar, but counts as a gap here (see note).
    assert got["numerator"] == {"menc_5_and_12_months", "menc_then_acwy", "turns_2_on_reference_day"}

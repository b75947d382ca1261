"""rosp_antibiotics_resistance: MT patients aged 16+ treated by an antibiotic (ATC J01) in 2025, and among
them those who received amoxicillin-clavulanate, a 3rd/4th generation cephalosporin or a fluoroquinolone.
Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("amoxicillin_only", "1980-01-01", drugs=[("J01CA04", "2025-03-03")])
    c.patient("amoxicillin_clavulanate", "1980-01-01", drugs=[("J01CR02", "2025-03-03")])
    c.patient("cefpodoxime", "1950-01-01", sex="M", drugs=[("J01DD13", "2025-12-31")])
    c.patient("cefuroxime_second_generation", "1950-01-01", drugs=[("J01DC02", "2025-05-05")])
    c.patient("ofloxacin_and_fosfomycin", "1990-01-01", drugs=[("J01XX01", "2025-02-02"), ("J01MA01", "2025-06-06")])
    c.patient("fluoroquinolone_in_2024", "1990-01-01", drugs=[("J01MA02", "2024-12-31"), ("J01XX01", "2025-01-01")])
    c.patient("fluoroquinolone_only_2024", "1990-01-01", drugs=[("J01MA02", "2024-12-31")])
    c.patient("eye_drops_not_j01", "1990-01-01", drugs=[("S01AE01", "2025-04-04")])
    c.patient("turns_16_on_reference_day", "2009-12-31", drugs=[("J01CR02", "2025-04-04")])
    c.patient("still_15", "2010-01-01", drugs=[("J01CR02", "2025-04-04")])
    c.patient("not_my_patient", "1980-01-01", mt=None, drugs=[("J01CR02", "2025-04-04")])
    got = members(c, "rosp_antibiotics_resistance", "2025")
    assert got["initial_population"] == {
        "amoxicillin_only",
        "amoxicillin_clavulanate",
        "cefpodoxime",
        "cefuroxime_second_generation",
        "ofloxacin_and_fosfomycin",
        "fluoroquinolone_in_2024",
        "fluoroquinolone_only_2024",
        "eye_drops_not_j01",
        "turns_16_on_reference_day",
    }
    assert got["denominator"] == {
        "amoxicillin_only",
        "amoxicillin_clavulanate",
        "cefpodoxime",
        "cefuroxime_second_generation",
        "ofloxacin_and_fosfomycin",
        "fluoroquinolone_in_2024",
        "turns_16_on_reference_day",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "amoxicillin_clavulanate",
        "cefpodoxime",
        "ofloxacin_and_fosfomycin",
        "turns_16_on_reference_day",
    }

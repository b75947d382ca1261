"""rosp_metformin_diabetics: patients with an oral antidiabetic (ATC A10B without GLP-1 analogues A10BJ) in the
year who have metformin (A10BA02 or a fixed combination with metformin) in the year. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("metformin_alone", "1950-01-01", drugs=[("A10BA02", "2025-03-01")])
    c.patient("gliclazide_alone", "1950-01-01", sex="M", drugs=[("A10BB09", "2025-03-01")])
    c.patient("sitagliptin_metformin_combo", "1950-01-01", drugs=[("A10BD07", "2025-03-01")])
    c.patient("gliclazide_and_metformin", "1950-01-01", drugs=[("A10BB09", "2025-03-01"), ("A10BA02", "2025-09-01")])
    c.patient("insulin_only", "1950-01-01", drugs=[("A10AE04", "2025-03-01")])
    c.patient("glp1_only", "1950-01-01", drugs=[("A10BJ05", "2025-03-01")])
    c.patient("glp1_and_metformin", "1950-01-01", drugs=[("A10BJ06", "2025-03-01"), ("A10BA02", "2025-03-01")])
    c.patient("metformin_2024", "1950-01-01", drugs=[("A10BA02", "2024-12-31"), ("A10BB09", "2025-01-01")])
    c.patient("cip13_metformin", "1950-01-01", drugs=[("3400934987724", "2025-03-01"), ("A10BK01", "2025-03-01")])
    c.patient("minor", "2008-01-01", drugs=[("A10BA02", "2025-03-01")])
    got = members(c, "rosp_metformin_diabetics", "2025")
    assert got["initial_population"] == {
        "metformin_alone",
        "gliclazide_alone",
        "sitagliptin_metformin_combo",
        "gliclazide_and_metformin",
        "insulin_only",
        "glp1_only",
        "glp1_and_metformin",
        "metformin_2024",
        "cip13_metformin",
    }
    # cip13_metformin: a pack written without its ATC class is not recognised (value sets are ATC-based).
    assert got["denominator"] == {
        "metformin_alone",
        "gliclazide_alone",
        "sitagliptin_metformin_combo",
        "gliclazide_and_metformin",
        "glp1_and_metformin",
        "metformin_2024",
        "cip13_metformin",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "metformin_alone",
        "sitagliptin_metformin_combo",
        "gliclazide_and_metformin",
        "glp1_and_metformin",
    }

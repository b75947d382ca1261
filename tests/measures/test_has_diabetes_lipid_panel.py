"""has_diabetes_lipid_panel: treated diabetics (ATC A10 in the year) with a lipid panel (NABM 0996 or LDL 2001, LOINC
LDL or panel) in the year. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("eal", "1950-01-01", drugs=[("A10BA02", "2025-02-01")], labs=[("0996", "2025-04-01")])
    c.patient("ldl_direct", "1950-01-01", sex="M", drugs=[("A10BB09", "2025-02-01")], labs=[("2001", "2025-04-01")])
    c.patient("ldl_loinc", "1950-01-01", drugs=[("A10AE04", "2025-02-01")], loincs=[("13457-7", "2025-12-31")])
    c.patient("total_cholesterol_only", "1950-01-01", drugs=[("A10BA02", "2025-02-01")], labs=[("0580", "2025-04-01")])
    c.patient("eal_2024", "1950-01-01", drugs=[("A10BA02", "2025-02-01")], labs=[("0996", "2024-12-31")])
    c.patient("no_diabetes", "1950-01-01", drugs=[("C10AA05", "2025-02-01")], labs=[("0996", "2025-04-01")])
    c.patient("minor", "2012-01-01", drugs=[("A10AE04", "2025-02-01")], labs=[("0996", "2025-04-01")])
    got = members(c, "has_diabetes_lipid_panel", "2025")
    assert got["initial_population"] == {
        "eal",
        "ldl_direct",
        "ldl_loinc",
        "total_cholesterol_only",
        "eal_2024",
        "no_diabetes",
    }
    assert got["denominator"] == {"eal", "ldl_direct", "ldl_loinc", "total_cholesterol_only", "eal_2024"}
    assert got["exclusions"] == set()
    assert got["numerator"] == {"eal", "ldl_direct", "ldl_loinc"}

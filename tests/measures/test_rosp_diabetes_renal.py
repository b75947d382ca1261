"""rosp_diabetes_renal: treated diabetics (ATC A10 in the year) with, in the year, a creatinine or eGFR result
(NABM 0592/0593/0407, LOINC) and an albuminuria (NABM 1133, LOINC 14959-1/9318-7). Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient(
        "both_nabm",
        "1950-01-01",
        drugs=[("A10BA02", "2025-01-15")],
        labs=[("0592", "2025-03-01"), ("1133", "2025-03-01")],
    )
    c.patient("both_loinc", "1952-01-01", drugs=[("A10BA02", "2025-01-15")],
              loincs=[("62238-1", "2025-04-01"), ("14959-1", "2025-09-01")])  # fmt: skip
    c.patient("urea_and_ratio", "1953-01-01", drugs=[("A10BB09", "2025-06-01")], labs=[("0593", "2025-02-01")],
              loincs=[("9318-7", "2025-02-01")])  # fmt: skip
    c.patient("window_edges", "1954-01-01", drugs=[("A10AE04", "2025-06-01")],
              labs=[("0407", "2025-12-31"), ("1133", "2025-01-01")])  # fmt: skip
    c.patient("creatinine_only", "1955-01-01", drugs=[("A10BA02", "2025-01-15")], labs=[("0592", "2025-03-01")])
    c.patient("albuminuria_only", "1956-01-01", drugs=[("A10BA02", "2025-01-15")], labs=[("1133", "2025-03-01")])
    c.patient("albuminuria_2024", "1957-01-01", drugs=[("A10BA02", "2025-01-15")],
              labs=[("0592", "2025-05-01"), ("1133", "2024-12-31")])  # fmt: skip
    c.patient("urine_creatinine", "1958-01-01", sex="M", drugs=[("A10BA02", "2025-01-15")],
              labs=[("0592", "2025-05-01"), ("0627", "2025-05-01")])  # fmt: skip
    c.patient("dead", "1940-01-01", died="2025-11-01", drugs=[("A10BA02", "2025-01-15")],
              labs=[("0592", "2025-03-01"), ("1133", "2025-03-01")])  # fmt: skip
    c.patient("hypertensive_only", "1950-01-01", drugs=[("C09AA05", "2025-01-15")],
              labs=[("0592", "2025-03-01"), ("1133", "2025-03-01")])  # fmt: skip
    got = members(c, "rosp_diabetes_renal", "2025")
    assert got["initial_population"] == {
        "both_nabm",
        "both_loinc",
        "urea_and_ratio",
        "window_edges",
        "creatinine_only",
        "albuminuria_only",
        "albuminuria_2024",
        "urine_creatinine",
        "hypertensive_only",
    }
    assert got["denominator"] == {
        "both_nabm",
        "both_loinc",
        "urea_and_ratio",
        "window_edges",
        "creatinine_only",
        "albuminuria_only",
        "albuminuria_2024",
        "urine_creatinine",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"both_nabm", "both_loinc", "urea_and_ratio", "window_edges"}

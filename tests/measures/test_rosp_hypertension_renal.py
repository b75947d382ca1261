"""rosp_hypertension_renal: patients with an antihypertensive (ATC C02, C03, C07, C08, C09) in the year and, in the
year, a creatinine or eGFR result and an albuminuria. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("ramipril_screened", "1950-01-01", drugs=[("C09AA05", "2025-02-01")],
              labs=[("0592", "2025-03-01"), ("1133", "2025-03-01")])  # fmt: skip
    c.patient("amlodipine_loinc", "1951-01-01", sex="M", drugs=[("C08CA01", "2025-02-01")],
              loincs=[("2160-0", "2025-03-01"), ("14959-1", "2025-11-01")])  # fmt: skip
    c.patient("egfr_and_albuminuria", "1952-01-01", drugs=[("C07AB07", "2025-12-31")],
              loincs=[("62238-1", "2025-01-01")], labs=[("1133", "2025-06-01")])  # fmt: skip
    c.patient(
        "diuretic_creatinine_only", "1953-01-01", drugs=[("C03CA01", "2025-02-01")], labs=[("0592", "2025-03-01")]
    )
    c.patient("thiazide_nothing", "1954-01-01", drugs=[("C03AA03", "2025-02-01")])
    c.patient("sartan_2024", "1955-01-01", drugs=[("C09CA01", "2024-12-15")],
              labs=[("0592", "2025-03-01"), ("1133", "2025-03-01")])  # fmt: skip
    c.patient("statin_only", "1956-01-01", drugs=[("C10AA05", "2025-02-01")],
              labs=[("0592", "2025-03-01"), ("1133", "2025-03-01")])  # fmt: skip
    c.patient(
        "minor", "2009-06-01", drugs=[("C09AA05", "2025-02-01")], labs=[("0592", "2025-03-01"), ("1133", "2025-03-01")]
    )
    c.patient("not_my_patient", "1950-01-01", mt=None, drugs=[("C09AA05", "2025-02-01")])
    got = members(c, "rosp_hypertension_renal", "2025")
    assert got["initial_population"] == {
        "ramipril_screened",
        "amlodipine_loinc",
        "egfr_and_albuminuria",
        "diuretic_creatinine_only",
        "thiazide_nothing",
        "sartan_2024",
        "statin_only",
    }
    assert got["denominator"] == {
        "ramipril_screened",
        "amlodipine_loinc",
        "egfr_and_albuminuria",
        "diuretic_creatinine_only",
        "thiazide_nothing",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"ramipril_screened", "amlodipine_loinc", "egfr_and_albuminuria"}

"""rosp_diabetes_fundus: treated diabetics (ATC A10 in the year) with a fundus exam (CCAM BGQP002, BGQP007,
BGQP140, BZQK001) in the last 24 months. Memberships below are written by hand."""

from tests.lib.measure_fixture import OTHER_PROVIDER, Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("fundus_2025", "1950-01-01", drugs=[("A10BA02", "2025-03-01")], procedures=[("BGQP002", "2025-06-01")])
    c.patient(
        "window_first_day", "1955-01-01", drugs=[("A10BA02", "2025-02-01")], procedures=[("BGQP007", "2024-01-01")]
    )
    c.patient("fundus_too_old", "1955-01-01", drugs=[("A10BA02", "2025-02-01")], procedures=[("BGQP002", "2023-12-31")])
    c.patient(
        "oct_insulin", "1980-01-01", sex="M", drugs=[("A10AE04", "2025-05-01")], procedures=[("BZQK001", "2024-07-01")]
    )
    c.patient("deferred_reading", "1960-01-01", mt=OTHER_PROVIDER, drugs=[("A10BB09", "2025-12-31")],
              procedures=[("BGQP140", "2025-10-01")])  # fmt: skip
    c.patient("ecg_not_fundus", "1960-01-01", drugs=[("A10BA02", "2025-01-01")], procedures=[("DEQP003", "2025-06-01")])
    c.patient(
        "fundus_after_ref", "1960-01-01", drugs=[("A10BA02", "2025-04-01")], procedures=[("BGQP002", "2026-01-15")]
    )
    c.patient(
        "cip13_only", "1960-01-01", drugs=[("3400934987724", "2025-04-01")], procedures=[("BGQP002", "2025-05-01")]
    )
    c.patient("untreated_fundus", "1960-01-01", procedures=[("BGQP002", "2025-05-01")])
    c.patient("not_my_patient", "1950-01-01", mt=None, drugs=[("A10BA02", "2025-03-01")])
    c.patient("mt_ended", "1950-01-01", mt_until="2025-06-30", drugs=[("A10BA02", "2025-03-01")],
              procedures=[("BGQP002", "2025-06-01")])  # fmt: skip
    c.patient("minor", "2010-01-01", drugs=[("A10AE04", "2025-03-01")], procedures=[("BGQP002", "2025-06-01")])
    got = members(c, "rosp_diabetes_fundus", "2025")
    assert got["initial_population"] == {
        "fundus_2025",
        "window_first_day",
        "fundus_too_old",
        "oct_insulin",
        "deferred_reading",
        "ecg_not_fundus",
        "fundus_after_ref",
        "cip13_only",
        "untreated_fundus",
    }
    # cip13_only: the fixture writes a CIP13 without its ATC (drug_concept_id 0); value sets are ATC-based and
    # rely on the loader's CIP13 -> ATC mapping, so an unmapped pack is not recognised.
    assert got["denominator"] == {
        "fundus_2025",
        "window_first_day",
        "fundus_too_old",
        "oct_insulin",
        "deferred_reading",
        "ecg_not_fundus",
        "fundus_after_ref",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"fundus_2025", "window_first_day", "oct_insulin", "deferred_reading"}

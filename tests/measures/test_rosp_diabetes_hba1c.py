"""rosp_diabetes_hba1c: treated diabetics (ATC A10 in the year) with >= 2 HbA1c (NABM 1577) in the year;
>= 2 fructosamine tests (NABM 1576) exclude. Memberships below are written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient(
        "two_hba1c",
        "1950-01-01",
        drugs=[("A10BA02", "2025-01-10")],
        labs=[("1577", "2025-02-01"), ("1577", "2025-08-01")],
    )
    c.patient("one_hba1c", "1960-05-05", sex="M", drugs=[("A10BA02", "2025-03-01")], labs=[("1577", "2025-04-01")])
    c.patient(
        "same_day_twice",
        "1955-01-01",
        drugs=[("A10BB09", "2025-03-01")],
        labs=[("1577", "2025-04-01"), ("1577", "2025-04-01")],
    )
    c.patient(
        "loinc_results",
        "1945-01-01",
        drugs=[("A10AE04", "2025-06-01")],
        loincs=[("4548-4", "2025-01-05"), ("4548-4", "2025-12-31")],
    )
    c.patient(
        "fructosamine",
        "1970-01-01",
        drugs=[("A10BA02", "2025-03-01")],
        labs=[("1576", "2025-03-02"), ("1576", "2025-09-02")],
    )
    c.patient(
        "treated_2024_only",
        "1950-01-01",
        drugs=[("A10BA02", "2024-12-31")],
        labs=[("1577", "2025-02-01"), ("1577", "2025-08-01")],
    )
    c.patient(
        "hba1c_2024",
        "1950-01-01",
        drugs=[("A10BA02", "2025-01-10")],
        labs=[("1577", "2024-12-01"), ("1577", "2025-08-01")],
    )
    c.patient("not_my_patient", "1950-01-01", mt=None, drugs=[("A10BA02", "2025-01-10")])
    c.patient("minor", "2010-01-01", drugs=[("A10AE04", "2025-01-10")])
    c.patient("dead", "1940-01-01", died="2025-06-01", drugs=[("A10BA02", "2025-01-10")])
    c.patient("no_diabetes", "1980-01-01", labs=[("1577", "2025-02-01"), ("1577", "2025-08-01")])
    got = members(c, "rosp_diabetes_hba1c", "2025")
    assert got["initial_population"] == {
        "two_hba1c",
        "one_hba1c",
        "same_day_twice",
        "loinc_results",
        "fructosamine",
        "treated_2024_only",
        "hba1c_2024",
        "no_diabetes",
    }
    assert got["denominator"] == {
        "two_hba1c",
        "one_hba1c",
        "same_day_twice",
        "loinc_results",
        "fructosamine",
        "hba1c_2024",
    }
    assert got["exclusions"] == {"fructosamine"}
    assert got["numerator"] == {"two_hba1c", "loinc_results"}

"""rosp_vka_inr: patients with VKA (ATC B01AA) prescribed on at least 3 distinct days in the year, with at least 10
INR (NABM 0127, LOINC 6301-6) on distinct days in the year. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

VKA = [("B01AA03", "2025-01-05"), ("B01AA03", "2025-04-05"), ("B01AA03", "2025-07-05")]


def days(n: int, first_month: int = 1) -> list[str]:
    """``n`` distinct days of 2025, the 10th of each month from ``first_month`` (then the 20th)."""
    dates = [f"2025-{m:02d}-10" for m in range(first_month, 13)] + [f"2025-{m:02d}-20" for m in range(1, 13)]
    return dates[:n]


def test_memberships() -> None:
    c = Centre()
    c.patient("ten_inr", "1950-01-01", drugs=VKA, labs=[("0127", d) for d in days(10)])
    c.patient("nine_inr", "1950-01-01", drugs=VKA, labs=[("0127", d) for d in days(9)])
    c.patient("nine_days_ten_results", "1950-01-01", drugs=VKA,
              labs=[("0127", d) for d in days(9)] + [("0127", "2025-01-10")])  # fmt: skip
    c.patient("nabm_and_loinc", "1950-01-01", sex="M", drugs=VKA,
              labs=[("0127", d) for d in days(5)], loincs=[("6301-6", d) for d in days(5, first_month=6)])  # fmt: skip
    c.patient("one_inr_in_2024", "1950-01-01", drugs=VKA,
              labs=[("0127", d) for d in days(9)] + [("0127", "2024-12-31")])  # fmt: skip
    c.patient("fluindione_twelve", "1945-01-01", drugs=[("B01AA12", "2025-01-03"), ("B01AA12", "2025-02-03"),
                                                        ("B01AA12", "2025-03-03"), ("B01AA12", "2025-04-03")],
              labs=[("0127", d) for d in days(12)])  # fmt: skip
    c.patient("two_prescriptions", "1950-01-01", drugs=VKA[:2], labs=[("0127", d) for d in days(12)])
    c.patient("quick_without_vka_code", "1950-01-01", drugs=VKA, labs=[("0126", d) for d in days(10)])
    c.patient("doac", "1950-01-01", drugs=[("B01AF02", d) for d in ("2025-01-05", "2025-04-05", "2025-07-05")],
              labs=[("0127", d) for d in days(10)])  # fmt: skip
    c.patient("not_my_patient", "1950-01-01", mt=None, drugs=VKA, labs=[("0127", d) for d in days(10)])
    got = members(c, "rosp_vka_inr", "2025")
    assert got["initial_population"] == {
        "ten_inr",
        "nine_inr",
        "nine_days_ten_results",
        "nabm_and_loinc",
        "one_inr_in_2024",
        "fluindione_twelve",
        "two_prescriptions",
        "quick_without_vka_code",
        "doac",
    }
    assert got["denominator"] == {
        "ten_inr",
        "nine_inr",
        "nine_days_ten_results",
        "nabm_and_loinc",
        "one_inr_in_2024",
        "fluindione_twelve",
        "quick_without_vka_code",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"ten_inr", "nabm_and_loinc", "fluindione_twelve"}

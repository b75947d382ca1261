"""has_ppi_long_term: MT adults who initiated a PPI (A02BC) treatment in 2025 (nothing in the 180 days
before), prescriptions chained within 30 days; numerator: a treatment lasting >= 57 days. By hand."""

from tests.lib.measure_fixture import Centre, members

OMEPRAZOLE, ESOMEP = "A02BC01", "A02BC05"


def test_memberships() -> None:
    c = Centre()
    c.patient("four_weeks", "1970-01-01", drugs=[(OMEPRAZOLE, "2025-02-01", "2025-02-28")])
    c.patient("eight_weeks_exactly", "1970-01-01", drugs=[(OMEPRAZOLE, "2025-02-01", "2025-03-28")])
    c.patient("renewed_to_57_days", "1965-01-01", sex="M",
              drugs=[(OMEPRAZOLE, "2025-05-01", "2025-05-28"), (ESOMEP, "2025-06-10", "2025-06-26")])  # fmt: skip
    c.patient("long_term_since_2024", "1950-01-01",
              drugs=[(ESOMEP, "2024-10-01", "2024-12-23"), (ESOMEP, "2025-01-10", "2025-04-03")])  # fmt: skip
    c.patient("second_course_not_initiated", "1960-01-01",
              drugs=[(OMEPRAZOLE, "2025-01-05", "2025-02-01"), (OMEPRAZOLE, "2025-04-01", "2025-07-01")])  # fmt: skip
    c.patient("antacid_only", "1960-01-01", drugs=[("A02AD01", "2025-01-05", "2025-06-01")])
    c.patient("minor", "2010-01-01", drugs=[(OMEPRAZOLE, "2025-01-05", "2025-06-01")])
    got = members(c, "has_ppi_long_term", "2025")
    assert got["initial_population"] == {
        "four_weeks",
        "eight_weeks_exactly",
        "renewed_to_57_days",
        "long_term_since_2024",
        "second_course_not_initiated",
        "antacid_only",
    }
    assert got["denominator"] == {
        "four_weeks",
        "eight_weeks_exactly",
        "renewed_to_57_days",
        "second_course_not_initiated",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"renewed_to_57_days"}

"""rosp_benzo_anxiolytic_12w: MT patients aged 16+ who initiated an anxiolytic benzodiazepine (N05BA)
treatment in 2025 (no prescription in the 180 days before), prescriptions chained when the next starts
<= 30 days after the end; numerator: such a treatment lasting >= 85 days. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

ALPRAZOLAM, BROMAZEPAM, DIAZEPAM = "N05BA12", "N05BA08", "N05BA01"


def test_memberships() -> None:
    c = Centre()
    c.patient("single_84_days", "1970-01-01", drugs=[(ALPRAZOLAM, "2025-02-01", "2025-04-25")])
    c.patient("renewed_85_days", "1970-01-01", sex="M",
              drugs=[(ALPRAZOLAM, "2025-02-01", "2025-03-02"), (BROMAZEPAM, "2025-03-20", "2025-04-26")])  # fmt: skip
    c.patient("two_short_courses_41_days_apart", "1975-01-01",
              drugs=[(BROMAZEPAM, "2025-03-01", "2025-03-14"), (BROMAZEPAM, "2025-04-24", "2025-07-31")])  # fmt: skip
    monthly = [(BROMAZEPAM, f"{y}-{m:02d}-01", f"{y}-{m:02d}-28") for y in (2023, 2024, 2025) for m in range(1, 13)]
    c.patient("ongoing_since_2023", "1950-01-01", drugs=monthly)
    c.patient("washout_181_days", "1965-01-01",
              drugs=[(ALPRAZOLAM, "2024-06-01", "2024-07-05"), (ALPRAZOLAM, "2025-01-02", "2025-04-15")])  # fmt: skip
    c.patient("washout_180_days", "1965-01-01",
              drugs=[(ALPRAZOLAM, "2024-06-01", "2024-07-06"), (ALPRAZOLAM, "2025-01-02", "2025-04-15")])  # fmt: skip
    c.patient("diazepam_six_months", "1945-01-01", drugs=[(DIAZEPAM, "2025-05-01", "2025-10-31")])
    c.patient("hypnotic_only", "1960-01-01", drugs=[("N05CF02", "2025-02-01", "2025-08-01")])
    c.patient("still_15", "2010-01-01", drugs=[(ALPRAZOLAM, "2025-02-01", "2025-08-01")])
    c.patient(
        "left_the_practice", "1970-01-01", mt_until="2025-09-30", drugs=[(ALPRAZOLAM, "2025-02-01", "2025-08-01")]
    )
    got = members(c, "rosp_benzo_anxiolytic_12w", "2025")
    assert got["initial_population"] == {
        "single_84_days",
        "renewed_85_days",
        "two_short_courses_41_days_apart",
        "ongoing_since_2023",
        "washout_181_days",
        "washout_180_days",
        "diazepam_six_months",
        "hypnotic_only",
    }
    assert got["denominator"] == {
        "single_84_days",
        "renewed_85_days",
        "two_short_courses_41_days_apart",
        "washout_181_days",
        "diazepam_six_months",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"renewed_85_days", "washout_181_days", "diazepam_six_months"}

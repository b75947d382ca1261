"""rosp_benzo_hypnotic_4w: MT patients aged 16+ who initiated a hypnotic (N05CD, N05CF) treatment in 2025
(no prescription in the 180 days before), prescriptions chained when the next starts <= 30 days after the
end; numerator: such a treatment lasting >= 29 days. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

ZOLPIDEM, ZOPICLONE, LORMETAZEPAM = "N05CF02", "N05CF01", "N05CD06"


def test_memberships() -> None:
    c = Centre()
    c.patient("single_28_days", "1970-01-01", drugs=[(ZOLPIDEM, "2025-03-01", "2025-03-28")])
    c.patient("renewed_after_13_days", "1970-01-01", sex="M",
              drugs=[(ZOLPIDEM, "2025-03-01", "2025-03-28"), (ZOLPIDEM, "2025-04-10", "2025-05-07")])  # fmt: skip
    c.patient("renewed_after_34_days", "1970-01-01",
              drugs=[(ZOPICLONE, "2025-03-01", "2025-03-28"), (ZOPICLONE, "2025-05-01", "2025-05-28")])  # fmt: skip
    c.patient("single_29_days", "1980-01-01", drugs=[(ZOPICLONE, "2025-06-01", "2025-06-29")])
    c.patient("ongoing_since_2024", "1950-01-01",
              drugs=[(ZOLPIDEM, "2024-10-01", "2024-10-28"), (ZOLPIDEM, "2024-11-10", "2024-12-07"),
                     (ZOLPIDEM, "2025-01-05", "2025-02-01")])  # fmt: skip
    c.patient("washout_227_days", "1960-01-01",
              drugs=[(ZOLPIDEM, "2024-05-01", "2024-05-28"), (ZOLPIDEM, "2025-01-10", "2025-01-23"),
                     (ZOLPIDEM, "2025-02-01", "2025-02-28")])  # fmt: skip
    c.patient("washout_104_days", "1960-01-01",
              drugs=[(ZOLPIDEM, "2024-09-01", "2024-09-28"), (ZOLPIDEM, "2025-01-10", "2025-03-31")])  # fmt: skip
    c.patient("started_20_december", "1990-01-01", drugs=[(ZOPICLONE, "2025-12-20", "2026-01-16")])
    c.patient("started_31_december_2024", "1990-01-01", drugs=[(ZOPICLONE, "2024-12-31", "2025-02-15")])
    c.patient("switch_to_benzodiazepine", "1955-01-01",
              drugs=[(ZOLPIDEM, "2025-09-01", "2025-09-28"), (LORMETAZEPAM, "2025-10-01", "2025-10-28")])  # fmt: skip
    c.patient("anxiolytic_only", "1955-01-01", drugs=[("N05BA12", "2025-02-01", "2025-06-01")])
    c.patient("cip13_only", "1955-01-01", drugs=[("3400935742315", "2025-02-01", "2025-04-01")])
    c.patient("still_15", "2010-01-01", drugs=[(ZOLPIDEM, "2025-02-01", "2025-04-01")])
    c.patient("not_my_patient", "1970-01-01", mt=None, drugs=[(ZOLPIDEM, "2025-02-01", "2025-04-01")])
    got = members(c, "rosp_benzo_hypnotic_4w", "2025")
    assert got["initial_population"] == {
        "single_28_days",
        "renewed_after_13_days",
        "renewed_after_34_days",
        "single_29_days",
        "ongoing_since_2024",
        "washout_227_days",
        "washout_104_days",
        "started_20_december",
        "started_31_december_2024",
        "switch_to_benzodiazepine",
        "anxiolytic_only",
        "cip13_only",
    }
    assert got["denominator"] == {
        "single_28_days",
        "renewed_after_13_days",
        "renewed_after_34_days",
        "single_29_days",
        "washout_227_days",
        "started_20_december",
        "switch_to_benzodiazepine",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "renewed_after_13_days",
        "single_29_days",
        "washout_227_days",
        "switch_to_benzodiazepine",
    }

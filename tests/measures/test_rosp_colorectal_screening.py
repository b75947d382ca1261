"""rosp_colorectal_screening: MT patients aged 50-74 with a FIT result (LOINC 57905-2...) since 2024-01-01;
a colonoscopy (HHQE002/005/004/003) since 2021-01-01 excludes. Reference date 2025-12-31. By hand."""

from tests.lib.measure_fixture import Centre, members

FIT = "57905-2"


def test_memberships() -> None:
    c = Centre()
    c.patient("fit_2025", "1960-02-02", sex="M", loincs=[(FIT, "2025-03-03")])
    c.patient("fit_window_first_day", "1955-05-05", loincs=[(FIT, "2024-01-01")])
    c.patient("fit_too_old", "1955-05-05", loincs=[(FIT, "2023-12-31")])
    c.patient("quantitative_fit", "1965-06-06", loincs=[("58453-2", "2025-09-09")])
    c.patient("nabm_lab_not_fit", "1965-06-06", labs=[("1104", "2025-09-09")])
    c.patient("colonoscopy_4_years_ago", "1958-01-01", procedures=[("HHQE002", "2021-01-01")])
    c.patient("colonoscopy_too_old", "1958-01-01", procedures=[("HHQE005", "2020-12-31")])
    c.patient("colonoscopy_and_fit", "1958-01-01", sex="M", loincs=[(FIT, "2025-02-02")],
              procedures=[("HHQE004", "2025-03-15")])  # fmt: skip
    c.patient("rectosigmoidoscopy_only", "1962-01-01", procedures=[("HJQE001", "2024-06-06")])
    c.patient("turns_50_on_reference_day", "1975-12-31", loincs=[(FIT, "2025-12-31")])
    c.patient("still_49", "1976-01-01", loincs=[(FIT, "2025-06-01")])
    c.patient("turned_75", "1950-12-31", loincs=[(FIT, "2025-06-01")])
    c.patient("not_my_patient", "1960-01-01", mt=None, loincs=[(FIT, "2025-06-01")])
    got = members(c, "rosp_colorectal_screening", "2025")
    aged_50_74 = {
        "fit_2025",
        "fit_window_first_day",
        "fit_too_old",
        "quantitative_fit",
        "nabm_lab_not_fit",
        "colonoscopy_4_years_ago",
        "colonoscopy_too_old",
        "colonoscopy_and_fit",
        "rectosigmoidoscopy_only",
        "turns_50_on_reference_day",
    }
    assert got["initial_population"] == aged_50_74
    assert got["denominator"] == aged_50_74
    assert got["exclusions"] == {"colonoscopy_4_years_ago", "colonoscopy_and_fit"}
    assert got["numerator"] == {"fit_2025", "fit_window_first_day", "quantitative_fit", "turns_50_on_reference_day"}

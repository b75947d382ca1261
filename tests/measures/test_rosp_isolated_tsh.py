"""rosp_isolated_tsh: patients with a thyroid test in the year (TSH or free T4) who had a TSH (NABM 1208/1211, LOINC
3016-3) and no free T4 (NABM 1207/1211, LOINC 3024-7) in the year. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("tsh_alone", "1970-01-01", labs=[("1208", "2025-03-01")])
    c.patient("tsh_twice", "1970-01-01", sex="M", labs=[("1208", "2025-01-01"), ("1208", "2025-12-31")])
    c.patient("tsh_and_ft4_same_day", "1970-01-01", labs=[("1208", "2025-03-01"), ("1207", "2025-03-01")])
    c.patient("combined_1211", "1970-01-01", labs=[("1211", "2025-03-01")])
    c.patient("ft4_alone", "1970-01-01", labs=[("1207", "2025-03-01")])
    c.patient("ft4_later", "1970-01-01", labs=[("1208", "2025-02-01"), ("1207", "2025-10-01")])
    c.patient("tsh_loinc", "1970-01-01", loincs=[("3016-3", "2025-05-01")])
    c.patient("tsh_and_ft4_loinc", "1970-01-01", loincs=[("3016-3", "2025-05-01"), ("3024-7", "2025-05-01")])
    c.patient("ft4_in_2024", "1970-01-01", labs=[("1207", "2024-12-31"), ("1208", "2025-01-01")])
    c.patient("tsh_2024_only", "1970-01-01", labs=[("1208", "2024-06-01")])
    c.patient("creatinine_only", "1970-01-01", labs=[("0592", "2025-06-01")])
    c.patient("not_my_patient", "1970-01-01", mt=None, labs=[("1208", "2025-03-01")])
    got = members(c, "rosp_isolated_tsh", "2025")
    assert got["initial_population"] == {
        "tsh_alone",
        "tsh_twice",
        "tsh_and_ft4_same_day",
        "combined_1211",
        "ft4_alone",
        "ft4_later",
        "tsh_loinc",
        "tsh_and_ft4_loinc",
        "ft4_in_2024",
        "tsh_2024_only",
        "creatinine_only",
    }
    assert got["denominator"] == {
        "tsh_alone",
        "tsh_twice",
        "tsh_and_ft4_same_day",
        "combined_1211",
        "ft4_alone",
        "ft4_later",
        "tsh_loinc",
        "tsh_and_ft4_loinc",
        "ft4_in_2024",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"tsh_alone", "tsh_twice", "tsh_loinc", "ft4_in_2024"}

"""rosp_diabetes_statin_women: women aged 60 or more on the reference date, treated in the year by antidiabetics and
antihypertensives, with a statin in the year. Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members


def test_memberships() -> None:
    c = Centre()
    c.patient("turns_60_on_ref", "1965-12-31", drugs=[("A10BA02", "2025-02-01"), ("C08CA01", "2025-02-01"),
                                                      ("C10AA01", "2025-09-01")])  # fmt: skip
    c.patient("aged_59", "1966-01-01", drugs=[("A10BA02", "2025-02-01"), ("C08CA01", "2025-02-01"),
                                              ("C10AA01", "2025-09-01")])  # fmt: skip
    c.patient("insulin_sartan_rosuva", "1940-01-01", drugs=[("A10AE04", "2025-02-01"), ("C09CA03", "2025-03-01"),
                                                            ("C10AA07", "2025-12-31")])  # fmt: skip
    c.patient("no_statin", "1950-01-01", drugs=[("A10BB09", "2025-02-01"), ("C03BA11", "2025-02-01")])
    c.patient("no_antidiabetic", "1950-01-01", drugs=[("C09AA05", "2025-02-01"), ("C10AA05", "2025-02-01")])
    c.patient("man_70", "1955-01-01", sex="M", drugs=[("A10BA02", "2025-02-01"), ("C08CA01", "2025-02-01"),
                                                      ("C10AA01", "2025-09-01")])  # fmt: skip
    c.patient("not_my_patient", "1950-01-01", mt=None, drugs=[("A10BA02", "2025-02-01"), ("C08CA01", "2025-02-01")])
    got = members(c, "rosp_diabetes_statin_women", "2025")
    assert got["initial_population"] == {"turns_60_on_ref", "insulin_sartan_rosuva", "no_statin", "no_antidiabetic"}
    assert got["denominator"] == {"turns_60_on_ref", "insulin_sartan_rosuva", "no_statin"}
    assert got["exclusions"] == set()
    assert got["numerator"] == {"turns_60_on_ref", "insulin_sartan_rosuva"}

"""rosp_coronary_statin_antiplatelet: patients with coronary disease (a CIM-10 I20-I25 diagnosis at any date, or an
ALD with a CIM-10 I20-I25 code in force) treated in the year by a statin and an antiplatelet (ATC B01AC).
Memberships written by hand."""

from tests.lib.measure_fixture import Centre, members

STATIN, ASPIRIN = ("C10AA05", "2025-03-01"), ("B01AC06", "2025-03-01")


def test_memberships() -> None:
    c = Centre()
    c.patient(
        "i25_statin_aspirin", "1950-01-01", sex="M", conditions=[("I25.9", "2012-05-01")], drugs=[STATIN, ASPIRIN]
    )
    c.patient("ald_clopidogrel", "1948-01-01", sex="M", ald=("I25",), drugs=[STATIN, ("B01AC04", "2025-10-01")])
    c.patient("ticagrelor_rosuva", "1960-01-01", conditions=[("I21", "2025-02-01")],
              drugs=[("C10AA07", "2025-12-31"), ("B01AC24", "2025-02-10")])  # fmt: skip
    c.patient("statin_only", "1955-01-01", conditions=[("I21", "2024-01-01")], drugs=[STATIN])
    c.patient("aspirin_only", "1955-01-01", conditions=[("I20.9", "2023-01-01")], drugs=[ASPIRIN])
    c.patient("apixaban_not_antiplatelet", "1945-01-01", conditions=[("I25", "2020-01-01")],
              drugs=[STATIN, ("B01AF02", "2025-03-01")])  # fmt: skip
    c.patient("drugs_2024", "1950-01-01", conditions=[("I25", "2020-01-01")],
              drugs=[("C10AA05", "2024-12-31"), ("B01AC06", "2024-12-31")])  # fmt: skip
    c.patient("diagnosis_after_ref", "1950-01-01", conditions=[("I21", "2026-01-10")], drugs=[STATIN, ASPIRIN])
    c.patient("atrial_fibrillation", "1950-01-01", conditions=[("I48", "2020-01-01")], drugs=[STATIN, ASPIRIN])
    c.patient("ald_diabetes", "1950-01-01", ald=("E11",), drugs=[STATIN, ASPIRIN])
    c.patient("not_my_patient", "1950-01-01", mt=None, conditions=[("I25", "2020-01-01")], drugs=[STATIN, ASPIRIN])
    got = members(c, "rosp_coronary_statin_antiplatelet", "2025")
    assert got["initial_population"] == {
        "i25_statin_aspirin",
        "ald_clopidogrel",
        "ticagrelor_rosuva",
        "statin_only",
        "aspirin_only",
        "apixaban_not_antiplatelet",
        "drugs_2024",
        "diagnosis_after_ref",
        "atrial_fibrillation",
        "ald_diabetes",
    }
    assert got["denominator"] == {
        "i25_statin_aspirin",
        "ald_clopidogrel",
        "ticagrelor_rosuva",
        "statin_only",
        "aspirin_only",
        "apixaban_not_antiplatelet",
        "drugs_2024",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {"i25_statin_aspirin", "ald_clopidogrel", "ticagrelor_rosuva"}

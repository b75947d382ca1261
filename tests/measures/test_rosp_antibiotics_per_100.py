"""rosp_antibiotics_per_100: antibiotic courses (distinct days with an ATC J01 prescription in 2025) per MT
patient aged 16-65 without an ALD in force on 2025-12-31. Memberships and counts written by hand."""

from proxisante.measures.context import Context
from proxisante.measures.definition import measure
from proxisante.measures.periods import parse_period
from proxisante.measures.results import add_rates, counts, per_person
from tests.lib.measure_fixture import Centre, members

AMOX, AMOX_CLAV, FOSFO = "J01CA04", "J01CR02", "J01XX01"


def centre() -> Centre:
    c = Centre()
    c.patient("three_courses", "1990-01-01", drugs=[(AMOX, "2025-01-01"), (AMOX_CLAV, "2025-03-01"),
                                                    (FOSFO, "2025-12-31")])  # fmt: skip
    c.patient("two_on_same_day", "1985-05-05", sex="M", drugs=[(AMOX, "2025-02-02"), (AMOX_CLAV, "2025-02-02")])
    c.patient("relay_two_days", "1975-07-07", drugs=[(AMOX, "2025-04-01", "2025-04-06"), (AMOX_CLAV, "2025-04-05")])
    c.patient("course_in_2024", "1980-01-01", drugs=[(AMOX, "2024-12-31")])
    c.patient("no_antibiotic", "1970-01-01", drugs=[("N02BE01", "2025-05-05")])
    c.patient("with_ald", "1970-01-01", ald=("E11.9",), drugs=[(AMOX, "2025-05-05")])
    c.patient("turns_16_on_reference_day", "2009-12-31", drugs=[(AMOX, "2025-06-06")])
    c.patient("aged_65", "1960-01-01", drugs=[(AMOX, "2025-06-06")])
    c.patient("turned_66", "1959-12-31", drugs=[(AMOX, "2025-06-06")])
    c.patient("not_my_patient", "1980-01-01", mt=None, drugs=[(AMOX, "2025-06-06")])
    c.patient("cip13_amoxicillin", "1988-08-08", drugs=[("3400938307641", "2025-06-06")])
    return c


def test_memberships() -> None:
    got = members(centre(), "rosp_antibiotics_per_100", "2025")
    assert got["initial_population"] == {
        "three_courses",
        "two_on_same_day",
        "relay_two_days",
        "course_in_2024",
        "no_antibiotic",
        "with_ald",
        "turns_16_on_reference_day",
        "aged_65",
        "cip13_amoxicillin",
    }
    assert got["denominator"] == {
        "three_courses",
        "two_on_same_day",
        "relay_two_days",
        "course_in_2024",
        "no_antibiotic",
        "turns_16_on_reference_day",
        "aged_65",
        "cip13_amoxicillin",
    }
    assert got["exclusions"] == set()
    assert got["numerator"] == {
        "three_courses",
        "two_on_same_day",
        "relay_two_days",
        "turns_16_on_reference_day",
        "aged_65",
    }


def test_courses_per_person_and_rate() -> None:
    c = centre()
    warehouse = c.warehouse()
    period = parse_period("2025")
    m, context = measure("rosp_antibiotics_per_100"), Context(warehouse, period.end)
    frame = warehouse.execute(per_person(m, context, period))
    events = {c.names([p]).pop(): int(n) for p, n in zip(frame.person_id, frame.numerator_events, strict=True)}
    assert {name: n for name, n in events.items() if n} == {
        "three_courses": 3,
        "two_on_same_day": 1,
        "relay_two_days": 2,
        "turns_16_on_reference_day": 1,
        "aged_65": 1,
    }
    total = add_rates(counts(m, context, period), m)
    # 8 eligible persons, 8 courses: 100 courses per 100 patients.
    assert (int(total.eligible[0]), int(total.numerator_events[0]), float(total.rate[0])) == (8, 8, 100.0)

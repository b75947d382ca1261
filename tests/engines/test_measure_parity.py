"""The whole measure library gives identical results on DuckDB, PostgreSQL and PySpark.

Two proofs, both on real engines (tests/lib/engines.py starts a throw-away PostgreSQL server and a local
Spark): a generated synthetic centre loaded through the pivot format and replicated to the other
engines, compared person by person and measure by measure (memberships, event counts, evidence
dates) and on the care-gap list; and a generative test (hypothesis) that builds random small
populations — births around age limits, events around window limits, treatment episodes, ALD and
C2S — writes the same rows to the three engines and compares every membership.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxisante.measures.context import Context
from proxisante.measures.definition import library
from proxisante.measures.gaps import care_gaps
from proxisante.measures.periods import Period, parse_period
from proxisante.measures.results import per_person
from proxisante.vocab import code_list
from proxisante.vocab.valuesets import HIERARCHICAL, value_sets
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.replicate import replicate
from tests.lib.engines import new_database, new_spark_warehouse
from tests.lib.measure_fixture import Centre

PERIOD = parse_period("2025")
FLAGS = ["measure_id", "person_id", "in_denominator", "in_exclusions", "in_numerator", "numerator_events",
         "evidence_date"]  # fmt: skip


def memberships(warehouse: Warehouse, period: Period = PERIOD) -> pd.DataFrame:
    """Every measure's per-person flags, in one query, sorted: two engines agree iff the frames are equal."""
    context = Context(warehouse, period.end)
    tables = [
        per_person(m, context, period).mutate(measure_id=ibis.literal(m.id)).select(FLAGS) for m in library().values()
    ]
    frame = warehouse.execute(ibis.union(*tables))
    frame["evidence_date"] = pd.to_datetime(frame.evidence_date).dt.date
    for column in ("in_denominator", "in_exclusions", "in_numerator"):
        frame[column] = frame[column].astype(bool)
    frame["numerator_events"] = frame.numerator_events.astype("int64")
    frame["person_id"] = frame.person_id.astype("int64")
    return frame.sort_values(["measure_id", "person_id"]).reset_index(drop=True)


def engines(source: Warehouse, postgres_url: str, spark_session) -> dict[str, Warehouse]:
    postgres = Warehouse.connect(new_database(postgres_url))
    spark = new_spark_warehouse(spark_session)
    replicate(source, postgres)
    replicate(source, spark)
    return {"postgres": postgres, "spark": spark}


@pytest.fixture(scope="module")
def synthetic_centre(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A 400-patient synthetic centre loaded through the pivot format into DuckDB."""
    from proxisante.identity.keys import load_or_create_key
    from proxisante.identity.pseudonym import Pseudonymiser
    from proxisante.identity.vault import IdentityVault
    from proxisante.ingest.pivot.load import load_pivot
    from proxisante.installation import Installation
    from proxisante.settings import Settings
    from proxisante.synth import SynthOptions, generate_centre

    root: Path = tmp_path_factory.mktemp("centre")
    generate_centre(SynthOptions(patients=400, seed=11, out=root / "pivot"))
    warehouse = Warehouse.connect(f"duckdb://{root / 'warehouse.duckdb'}")
    vault = IdentityVault(root / "vault.duckdb")
    pseudonymiser = Pseudonymiser(load_or_create_key(root / "key"))
    load_pivot(root / "pivot", Installation(Settings(home=root), warehouse, vault, pseudonymiser), source="synth")
    return warehouse


def test_synthetic_centre_same_on_three_engines(synthetic_centre: Warehouse, postgres_url: str, spark_session) -> None:
    expected = memberships(synthetic_centre)
    assert expected.in_numerator.sum() > 100, "the centre should exercise the numerators"
    gaps = care_gaps(synthetic_centre, PERIOD)
    for name, warehouse in engines(synthetic_centre, postgres_url, spark_session).items():
        pd.testing.assert_frame_equal(memberships(warehouse), expected, check_dtype=False, obj=name)
        other = care_gaps(warehouse, PERIOD)
        pd.testing.assert_frame_equal(other, gaps, check_dtype=False, obj=f"{name} care gaps")


# -- generated populations --------------------------------------------------------------------------


def _codes(vocabulary: str) -> list[str]:
    """Codes of the library's value sets in one vocabulary, plus a few that match none."""
    listed = sorted({c for vs in value_sets().values() for c in vs.codes.get(vocabulary, ())})
    if vocabulary in HIERARCHICAL:
        known = {"CIM10": "cim10", "ATC": "atc"}[vocabulary]
        full = [row["code"] for row in code_list(known)]
        listed = sorted({c for c in full if any(c.startswith(p) for p in listed)} | set(listed))
    return listed + {"CIM10": ["J06.9"], "ATC": ["N02BE01"], "NABM": ["1104"], "CCAM": ["ZBQK002"]}.get(vocabulary, [])


CODES = {v: _codes(v) for v in ("CIM10", "ATC", "NABM", "LOINC", "CCAM", "NGAP")}
ALD = ["E11.9", "I25.1", "J44.9", "C50.9", "F32.9"]
days = st.dates(min_value=dt.date(2020, 6, 1), max_value=dt.date(2026, 2, 1))


def _event(vocabulary: str) -> st.SearchStrategy:
    return st.tuples(st.sampled_from(CODES[vocabulary]), days)


@st.composite
def drug(draw: st.DrawFn) -> tuple[str, str, str]:
    start = draw(days)
    return (
        draw(st.sampled_from(CODES["ATC"])),
        start.isoformat(),
        (start + dt.timedelta(draw(st.integers(0, 120)))).isoformat(),
    )


@st.composite
def patient(draw: st.DrawFn) -> dict:
    # Births cluster around the age limits of the library (16, 18, 25, 50, 65, 75) on 2025-12-31.
    age = draw(st.sampled_from([1, 2, 15, 16, 17, 18, 24, 25, 30, 49, 50, 60, 64, 65, 66, 74, 75, 76, 85]))
    birth = dt.date(2025 - age, 12, 31) + dt.timedelta(days=draw(st.integers(-3, 3)))
    iso = lambda events: [(code, day.isoformat()) for code, day in events]  # noqa: E731
    return {
        "born": birth.isoformat(),
        "sex": draw(st.sampled_from(["F", "M"])),
        "mt": draw(st.sampled_from([1, 1, 1, 2, None])),
        "died": draw(st.sampled_from([None, None, None, "2025-06-30"])),
        "c2s": draw(st.booleans()),
        "ald": tuple(draw(st.lists(st.sampled_from(ALD), max_size=2, unique=True))),
        "conditions": iso(draw(st.lists(_event("CIM10"), max_size=3))),
        "drugs": draw(st.lists(drug(), max_size=8)),
        "labs": iso(draw(st.lists(_event("NABM"), max_size=6))),
        "loincs": iso(draw(st.lists(_event("LOINC"), max_size=2))),
        "procedures": iso(draw(st.lists(_event("CCAM"), max_size=3))),
        "visits": iso(draw(st.lists(_event("NGAP"), max_size=2))),
    }


def build(patients: list[dict]) -> Centre:
    centre = Centre()
    for number, details in zip(itertools.count(1), patients, strict=False):
        centre.patient(f"p{number}", **details)
    return centre


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(patients=st.lists(patient(), min_size=5, max_size=25))
def test_generated_populations_same_on_three_engines(patients: list[dict], postgres_url: str, spark_session) -> None:
    centre = build(patients)
    duck = centre.warehouse()
    expected = memberships(duck)
    for name, warehouse in engines(duck, postgres_url, spark_session).items():
        pd.testing.assert_frame_equal(memberships(warehouse), expected, check_dtype=False, obj=name)

"""The same warehouse on DuckDB, PostgreSQL and Spark: same tables, same types, same rows, and the same
answers to the same Ibis queries.

The hand-written fixture centre is loaded into DuckDB (the default engine), replicated to a real
PostgreSQL server and to a local Spark (``tests/lib/engines.py``), and compared table by table. Then a few
queries of the kind the measures are made of run on the three engines. ``DIFFERENCES`` below is the
list of what does *not* give the same answer everywhere, each with its portable form, checked here on
the three engines (Ibis 12.0, DuckDB 1.5, PostgreSQL 15, Spark 4.0):

- **Integer division.** ``a / b`` of two integers is a true division in Ibis, and PostgreSQL's ``/``
  truncates: Ibis casts ``a`` to double for PostgreSQL, *except* when the same ``a`` appears elsewhere
  in the query (an Ibis 12 bug: ``aggregate(n=x.count(), r=x.count() / t.count())`` gives ``r = 0``
  instead of 0.75, typed float64; so does ``select(t.a, r=t.a / t.b)``). Always write
  ``a.cast("float64") / b``. (``//`` is floor division everywhere.)
- **Division by zero.** PostgreSQL and Spark (ANSI mode, Spark 4's default) raise; DuckDB does not.
  Write ``a / b.nullif(0)`` (NULL where the denominator is zero).
- **Booleans to integers.** PostgreSQL casts a boolean to ``int32`` only: ``cond.cast("int64")`` fails
  there. Write ``cond.sum()`` / ``cond.mean()`` to count, ``ibis.ifelse(cond, 1, 0)`` or
  ``cond.cast("int32")`` for a column.
- **Rounding floats.** ``round()`` of a float64 rounds halves to even on PostgreSQL (2.5 -> 2) and away
  from zero on DuckDB and Spark (2.5 -> 3). Round decimals (``x.cast("decimal(18, 6)").round(n)``:
  half away from zero everywhere), or ``(x + 0.5).floor()`` for a float.
- **Casting to an integer.** ``cast("int64")`` of a float or a decimal truncates on Spark (1.7 -> 1)
  and rounds on DuckDB and PostgreSQL (1.7 -> 2). Say which: ``.floor()``, ``.ceil()`` first.
- **Months and years between dates.** ``delta(unit="month"|"year")`` counts calendar boundaries crossed
  on DuckDB (31 Dec -> 1 Jan is one year) and whole elapsed units on PostgreSQL and Spark (zero).
  Day deltas (``delta(unit="day")``, ``date - date``) agree. For ages and whole months, compute from the
  parts: ``(y2 - y1) * 12 + m2 - m1 - (d2 < d1)``, ``y2 - y1 - ((m2, d2) < (m1, d1))``.
- **Dates against today.** ``ibis.today()``/``ibis.now()`` are in the session's time zone: UTC on Spark
  (Ibis sets it), the server's on PostgreSQL, the machine's on DuckDB. Pass the reference date as a
  Python ``date`` literal, as the measures' parameters do.
- **try_cast.** Ibis compiles it to a plain ``CAST`` on PostgreSQL, which fails on bad input where
  DuckDB and Spark give NULL. Do not parse in queries: the loader validated every value.
- **re_extract without a match** gives ``''`` on DuckDB and Spark and NULL on PostgreSQL: add
  ``.nullif("")``.
- **Numbers as strings.** ``cast("string")`` of 1.0 is ``'1'`` on PostgreSQL and ``'1.0'`` elsewhere;
  the mean of a decimal prints with 16 decimals on PostgreSQL, 6 on Spark, 2 on DuckDB. Keep numbers
  numbers; format them in Python.
- **Decimal aggregates** (``sum``, ``mean`` of ``decimal(12, 2)``) come back with each engine's precision
  and scale but equal values: compare them as ``Decimal``, ``.round(2)`` a mean that is shown.
- **approx_median** is approximate on Spark only; ``median()`` and ``quantile(q)`` are exact and
  interpolated on all three.
- **Overflow.** int32 arithmetic stays int32 and overflows (an error on all three): ``cast("int64")``
  before multiplying. ``sum()`` of an int32 column is int64 everywhere.
- **Strings.** ``upper``/``lower`` of accented letters follow the PostgreSQL database's ``LC_CTYPE``
  (only ASCII under the C locale), and ``order_by`` of strings its collation (``fr_FR`` sorts ``é``
  with ``e``; DuckDB and Spark sort by code point): sort results by ids or ASCII codes, not by labels.
  The test server uses ``C.UTF-8``, like DuckDB and Spark.

What is portable as Ibis writes it: ``order_by`` (NULLs last, ascending and descending, on all three),
``isin`` lists, ``between`` with Python date literals, ``date + ibis.interval(days|months|years=n)``,
``year()``/``month()``/``day_of_week.index()``/``truncate("M")``/``strftime`` with ``%Y %m %d``, ``lag``
and ``row_number`` (0-based) over windows, ``count(where=...)``, ``nunique``, ``mean``/``sum`` of booleans,
``cases``/``ifelse``/``fill_null``, ``greatest``/``least``, group keys with NULLs, NULL on empty sums.

Two notes on Ibis 12 itself: its Spark ``memtable`` goes through pandas and fails on a NULL decimal
(``replicate`` writes Arrow to Spark directly), and results from Spark come through pandas with
nanosecond timestamps: compare through ``to_pyarrow`` cast to the expression's schema, as here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from ibis.expr.types import Table

import tests.lib.pivot_fixture as fx
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.settings import Settings
from proxisante.warehouse.connection import Warehouse, WarehouseError
from proxisante.warehouse.replicate import insert, replicate
from proxisante.warehouse.schema import TABLES, TABLES_BY_NAME, TableDef
from tests.lib.engines import new_database, new_spark_warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINES = ("duckdb", "postgres", "pyspark")
Query = Callable[[Warehouse], Table]


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The fixture centre loaded into a DuckDB warehouse, once for the module."""
    home = tmp_path_factory.mktemp("centre")
    settings = Settings(
        home=home,
        warehouse_url=f"duckdb://{home / 'warehouse.duckdb'}",
        key_file=home / "key",
        vault_path=home / "vault",
    )
    installation = open_installation(settings)
    report = load_pivot(fx.write(home / "in"), installation)
    assert report.committed and report.rows_quarantined == 0
    yield installation.warehouse
    installation.close()


@pytest.fixture(scope="module")
def warehouses(centre: Warehouse, postgres_url: str, spark_session: SparkSession) -> Iterator[dict[str, Warehouse]]:
    """The centre on the three engines. The copies run with the process in Paris time, so that a copy
    that read timestamps in local time would show."""
    replicas = {
        "postgres": Warehouse.connect(new_database(postgres_url)),
        "pyspark": new_spark_warehouse(spark_session),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Europe/Paris")
        time.tzset()
        for engine, replica in replicas.items():
            started = time.perf_counter()
            replicate(centre, replica)
            print(f"\nreplicated the fixture centre to {engine} in {time.perf_counter() - started:.1f} s")
    time.tzset()
    yield {"duckdb": centre} | replicas
    for replica in replicas.values():
        replica.close()


def content(warehouse: Warehouse, table: TableDef) -> pa.Table:
    """Every row of a table with the declared Arrow types, sorted on all columns."""
    data = warehouse.to_pyarrow(warehouse.table(table.name)).cast(table.schema.to_pyarrow())
    return data.sort_by([(column, "ascending") for column in table.columns])


def result(warehouse: Warehouse, query: Query) -> pd.DataFrame:
    """A query's result with the types of its Ibis schema (Spark's come through pandas otherwise)."""
    return warehouse.to_pyarrow(query(warehouse)).to_pandas()


# --- the replicas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_holds_the_declared_tables_and_types(warehouses: dict[str, Warehouse], engine: str) -> None:
    warehouse = warehouses[engine]
    assert {t.name for t in TABLES} <= set(warehouse.backend.list_tables())
    assert warehouse.schema_mismatches() == {}


@pytest.mark.parametrize("engine", ["postgres", "pyspark"])
def test_replicas_hold_the_same_rows_as_duckdb(warehouses: dict[str, Warehouse], engine: str) -> None:
    source, replica = warehouses["duckdb"], warehouses[engine]
    assert replica.counts() == source.counts()
    assert source.counts()["cost"] == 2 and source.counts()["etl_manifest"] > 0  # decimals, timestamps
    for table in TABLES:
        expected, actual = content(source, table), content(replica, table)
        assert actual.equals(expected), (
            f"{table.name} differs on {engine}:\n{actual.to_pandas()}\n{expected.to_pandas()}"
        )


@pytest.mark.parametrize("engine", ["postgres", "pyspark"])
def test_replicas_copy_back_to_duckdb_unchanged(warehouses: dict[str, Warehouse], engine: str) -> None:
    names = ["person", "drug_exposure", "cost", "fr_billed_act", "etl_batch"]  # every type, few Spark jobs
    back = Warehouse.connect("duckdb://")
    assert replicate(warehouses[engine], back, tables=names) == {n: warehouses["duckdb"].counts()[n] for n in names}
    for name in names:
        assert content(back, TABLES_BY_NAME[name]).equals(content(warehouses["duckdb"], TABLES_BY_NAME[name]))


def test_replicate_replaces_the_content_batch_by_batch(centre: Warehouse, postgres_url: str) -> None:
    target = Warehouse.connect(new_database(postgres_url))
    replicate(centre, target)
    seen: list[tuple[str, int]] = []
    copied = replicate(
        centre, target, tables=["cost", "person"], progress=lambda t, n: seen.append((t, n)), batch_rows=2
    )
    assert copied == {"cost": 2, "person": 3}
    assert seen == [("cost", 2), ("person", 2), ("person", 3)]
    assert target.counts() == centre.counts()  # replaced, not appended
    target.close()


def test_a_failed_copy_leaves_the_target_as_it_was(centre: Warehouse, postgres_url: str) -> None:
    target = Warehouse.connect(new_database(postgres_url))
    replicate(centre, target, tables=["person"])

    def fail_on_cost(table: str, rows: int) -> None:
        if table == "cost":
            raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError, match="connection lost"):
        replicate(centre, target, tables=["person", "location", "cost"], progress=fail_on_cost)
    assert (target.counts()["person"], target.counts()["location"], target.counts()["cost"]) == (3, 0, 0)
    target.close()


def test_a_target_table_with_other_columns_is_recreated(centre: Warehouse) -> None:
    target = Warehouse.connect("duckdb://")
    target.backend.drop_table("fr_care_site")
    target.backend.create_table("fr_care_site", schema=ibis.schema({"care_site_id": "string", "old": "int32"}))
    assert set(target.schema_mismatches()) == {"fr_care_site"}
    replicate(centre, target, tables=["fr_care_site"])
    assert target.schema_mismatches() == {}
    assert target.counts()["fr_care_site"] == centre.counts()["fr_care_site"] == 1


def test_replicate_refuses_unknown_tables_and_itself(centre: Warehouse) -> None:
    with pytest.raises(WarehouseError, match="no warehouse table named nope"):
        replicate(centre, Warehouse.connect("duckdb://"), tables=["person", "nope"])
    with pytest.raises(WarehouseError, match="onto itself"):
        replicate(centre, centre)


# --- connecting by URL --------------------------------------------------------------------------------


def test_postgresql_urls_of_both_spellings_connect(postgres_url: str) -> None:
    url = new_database(postgres_url).replace("postgres://", "postgresql://")
    warehouse = Warehouse.connect(url)
    assert warehouse.engine == "postgres" and warehouse.schema_mismatches() == {}
    assert Warehouse.connect(url).counts()["person"] == 0  # tables found, not created twice
    warehouse.close()


def test_a_spark_url_names_a_local_spark() -> None:
    with pytest.raises(WarehouseError, match="pyspark://local"):
        Warehouse.connect("pyspark://cluster.example:7077")


def test_a_spark_url_cannot_change_the_running_sessions_directory(spark_session: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="already running"):
        Warehouse.connect(f"pyspark://local{tmp_path}")


# --- queries ------------------------------------------------------------------------------------------


def persons_by_gender_and_birth_year(w: Warehouse) -> Table:
    person = w.table("person")
    counts = person.group_by(["gender_concept_id", "year_of_birth"]).aggregate(persons=person.count())
    return counts.order_by(["gender_concept_id", "year_of_birth"])


def first_and_last_visit(w: Warehouse) -> Table:
    visit = w.table("visit_occurrence")
    return visit.aggregate(first=visit.visit_start_date.min(), last=visit.visit_start_date.max(), n=visit.count())


def metformin_users_by_gender(w: Warehouse) -> Table:
    """A join filtered with ``isin`` on concept ids and a date range given as Python dates."""
    concept = w.table("concept")
    ids = w.execute(concept.filter(concept.concept_code == "A10BA02").concept_id).tolist()
    person, drug = w.table("person"), w.table("drug_exposure")
    exposed = drug.filter(
        drug.drug_concept_id.isin(ids), drug.drug_exposure_start_date.between(dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    )
    joined = person.join(exposed, "person_id")
    users = joined.group_by("gender_concept_id").aggregate(users=joined.person_id.nunique(), rx=joined.count())
    return users.order_by("gender_concept_id")


def days_between_events(w: Warehouse) -> Table:
    """``lag`` over each person's dated events, and the days since the previous one."""
    dated = [("visit_occurrence", "visit_start_date"), ("drug_exposure", "drug_exposure_start_date"),
             ("measurement", "measurement_date"), ("procedure_occurrence", "procedure_date")]  # fmt: skip
    events = ibis.union(*(w.table(t).select("person_id", day=w.table(t)[c]) for t, c in dated), distinct=True)
    window = ibis.window(group_by="person_id", order_by="day")
    previous = events.mutate(previous=events.day.lag().over(window))
    gaps = previous.mutate(gap=previous.day.delta(previous.previous, unit="day"))
    return gaps.order_by(["person_id", "day"])


def share_of_persons_with_a_visit(w: Warehouse) -> Table:
    """A proportion: the numerator is cast to float64 (integer division on PostgreSQL otherwise)."""
    person, visit = w.table("person"), w.table("visit_occurrence")
    flagged = person.mutate(visited=person.person_id.isin(visit.person_id))
    share = flagged.visited.sum().cast("float64") / flagged.count()
    return flagged.aggregate(share=share, visited=flagged.visited.sum())


def billed_by_payer(w: Warehouse) -> Table:
    act = w.table("fr_billed_act")
    totals = act.group_by("payer").aggregate(total=act.amount.sum(), mean=act.amount.mean().round(2), n=act.count())
    return totals.order_by("payer")


def age_on_reference_date(w: Warehouse) -> Table:
    """Whole years of age on a reference date, from the date parts (``delta(unit='year')`` differs)."""
    person, on = w.table("person"), ibis.date(dt.date(2025, 1, 12))
    born = person.birth_datetime.date()
    before_birthday = (on.month() < born.month()) | ((on.month() == born.month()) & (on.day() < born.day()))
    age = on.year() - born.year() - before_birthday.cast("int32")
    return person.select("person_id", age=age, month=born.truncate("M")).order_by("person_id")


QUERIES: dict[str, Query] = {
    query.__name__: query
    for query in (persons_by_gender_and_birth_year, first_and_last_visit, metformin_users_by_gender,
                  days_between_events, share_of_persons_with_a_visit, billed_by_payer, age_on_reference_date)
}  # fmt: skip


@pytest.mark.parametrize("name", QUERIES)
def test_ibis_queries_agree_on_every_engine(warehouses: dict[str, Warehouse], name: str) -> None:
    results = {engine: result(warehouses[engine], QUERIES[name]) for engine in ENGINES}
    assert len(results["duckdb"]) > 0
    for engine in ("postgres", "pyspark"):
        pd.testing.assert_frame_equal(results[engine], results["duckdb"], check_exact=False, obj=f"{name} on {engine}")


def test_the_queries_mean_what_they_say(warehouses: dict[str, Warehouse]) -> None:
    duck = warehouses["duckdb"]
    assert result(duck, metformin_users_by_gender)[["users", "rx"]].values.tolist() == [[1, 1]]
    assert result(duck, share_of_persons_with_a_visit).share[0] == 1.0
    assert result(duck, billed_by_payer).total.tolist() == [Decimal("70.00")]
    assert sorted(result(duck, age_on_reference_date).age) == [
        33,
        60,
        76,
    ]  # Alice's birthday is that day, Bruno's in March
    # Alice: lab, visit and prescription the same day, procedure; Bruno: vaccination, visit
    assert sorted(result(duck, days_between_events).gap.dropna()) == [5, 41, 110]


# --- the differences, and their portable forms --------------------------------------------------------

PROBE_COLUMNS = {
    "n": "int64",
    "d": "int32",
    "x": "float64",
    "m": "decimal(12, 2)",
    "s": "string",
    "a": "date",
    "b": "date",
}
PROBE = TableDef("engine_probe", PROBE_COLUMNS, None, "what differs between engines", "test")
PROBE_ROWS = pa.table(
    {
        "n": [5, -7, 3, None],
        "d": pa.array([6, 2, 0, 4], pa.int32()),
        "x": [2.5, 1.7, -2.5, None],
        "m": pa.array([Decimal("2.50"), Decimal("1.70"), Decimal("-1.25"), None], pa.decimal128(12, 2)),
        "s": ["abc", "ABC", "x1", None],
        "a": [dt.date(2023, 12, 31), dt.date(2024, 1, 31), dt.date(2024, 2, 29), None],
        "b": [dt.date(2024, 1, 1), dt.date(2024, 3, 1), dt.date(2023, 2, 28), dt.date(2024, 1, 1)],
    }
).cast(PROBE.schema.to_pyarrow())


def _months(t: Table) -> ibis.Value:
    return (t.b.year() - t.a.year()) * 12 + t.b.month() - t.a.month() - (t.b.day() < t.a.day()).cast("int32")


# name -> (the form that differs between engines, its portable form), each a query on the probe table
DIFFERENCES: dict[str, tuple[Callable[[Table], Table], Callable[[Table], Table]]] = {
    "integer division": (
        lambda t: t.aggregate(n=t.n.count(), r=t.n.count() / t.count()),
        lambda t: t.aggregate(n=t.n.count(), r=t.n.count().cast("float64") / t.count()),
    ),
    "rounding a float": (
        lambda t: t.select(t.n, r=t.x.round()),
        lambda t: t.select(t.n, r=t.x.cast("decimal(18, 6)").round(0), f=(t.x + 0.5).floor()),
    ),
    "cast to integer": (
        lambda t: t.select(t.n, i=t.x.cast("int64"), j=t.m.cast("int64")),
        lambda t: t.select(t.n, i=t.x.floor().cast("int64"), j=t.m.ceil().cast("int64")),
    ),
    "months between dates": (
        lambda t: t.select(t.n, months=t.b.delta(t.a, unit="month"), years=t.b.delta(t.a, unit="year")),
        lambda t: t.select(t.n, months=_months(t), years=_months(t) // 12, days=t.b.delta(t.a, unit="day")),
    ),
    "regex without a match": (
        lambda t: t.select(t.n, r=t.s.re_extract("([a-z]+)", 1)),
        lambda t: t.select(t.n, r=t.s.re_extract("([a-z]+)", 1).nullif("")),
    ),
    "numbers as strings": (
        lambda t: t.select(t.n, s=(t.x * 2).cast("string")),  # 5.0 is '5' on PostgreSQL, '5.0' elsewhere
        lambda t: t.select(t.n, s=t.x * 2),
    ),
}


@pytest.fixture(scope="module")
def probes(warehouses: dict[str, Warehouse]) -> dict[str, Table]:
    """The probe table on each engine: NULLs, halves, negative numbers, month ends, a leap day."""
    tables = {}
    for engine, warehouse in warehouses.items():
        warehouse.backend.create_table(PROBE.name, schema=PROBE.schema)
        insert(warehouse, PROBE, PROBE_ROWS)
        tables[engine] = warehouse.backend.table(PROBE.name)
    return tables


def probe_result(
    warehouses: dict[str, Warehouse], probes: dict[str, Table], engine: str, query: Callable
) -> pd.DataFrame:
    expr = query(probes[engine])
    if "n" in expr.columns:
        expr = expr.order_by("n")
    return result(warehouses[engine], lambda _: expr)


@pytest.mark.parametrize("name", DIFFERENCES)
def test_engine_differences_and_their_portable_forms(
    warehouses: dict[str, Warehouse], probes: dict[str, Table], name: str
) -> None:
    differing, portable = DIFFERENCES[name]
    raw = {engine: probe_result(warehouses, probes, engine, differing) for engine in ENGINES}
    assert not all(raw[e].equals(raw["duckdb"]) for e in ENGINES), f"{name}: now the same everywhere, update the notes"
    fixed = {engine: probe_result(warehouses, probes, engine, portable) for engine in ENGINES}
    for engine in ("postgres", "pyspark"):
        pd.testing.assert_frame_equal(fixed[engine], fixed["duckdb"], obj=f"{name} on {engine}")


# name -> (a form PostgreSQL refuses, its error, the portable form)
POSTGRES_ERRORS: dict[str, tuple[Callable[[Table], Table], str, Callable[[Table], Table]]] = {
    "division by zero": (
        lambda t: t.select(t.n, q=t.n / t.d),
        "division by zero",
        lambda t: t.select(t.n, q=t.n.cast("float64") / t.d.nullif(0)),
    ),
    "boolean to bigint": (
        lambda t: t.select(t.n, b=(t.x > 0).cast("int64")),
        "cannot cast type boolean to bigint",
        lambda t: t.select(t.n, b=ibis.ifelse(t.x > 0, 1, 0), s=(t.x > 0).sum().over(), i=(t.x > 0).cast("int32")),
    ),
}


@pytest.mark.parametrize("name", POSTGRES_ERRORS)
def test_what_postgres_refuses_and_its_portable_form(
    warehouses: dict[str, Warehouse], probes: dict[str, Table], name: str
) -> None:
    refused, error, portable = POSTGRES_ERRORS[name]
    with pytest.raises(Exception, match=error):
        probe_result(warehouses, probes, "postgres", refused)
    fixed = {engine: probe_result(warehouses, probes, engine, portable) for engine in ENGINES}
    for engine in ("postgres", "pyspark"):
        pd.testing.assert_frame_equal(fixed[engine], fixed["duckdb"], obj=f"{name} on {engine}")

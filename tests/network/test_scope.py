"""Scopes (issue 15, item 2): every row of a network load knows its structure; a scope's view shows its
structures' rows only and never widens; a person seen by two structures is one person in a view over
both; the attributed views partition the persons of the network."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd
import pytest

from proxisante.ingest import FORMATS
from proxisante.installation import open_installation
from proxisante.measures import results
from proxisante.measures.periods import parse_period
from proxisante.network.attribution import attribution
from proxisante.network.scope import Scope, ScopedTables, ScopeError
from proxisante.network.structures import load_source
from proxisante.settings import Settings
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.replicate import replicate
from proxisante.warehouse.schema import TABLES
from proxisante.warehouse.tables import Tables
from tests.lib.engines import new_database, new_spark_warehouse
from tests.lib.network import LoadedNetwork

ON = dt.date(2026, 6, 30)
SHARED = "SELECT person_id FROM person WHERE structure = ? INTERSECT SELECT person_id FROM person WHERE structure = ?"


def persons(tables: ScopedTables) -> set[int]:
    return set(tables.execute(tables.table("person").select("person_id"))["person_id"])


def test_every_row_knows_its_structure(network: LoadedNetwork) -> None:
    inst = network.open()
    try:
        con = inst.warehouse.duckdb
        for table in TABLES:
            if not table.per_structure:
                assert "structure" not in table.columns
                continue
            (missing,) = con.execute(f'SELECT count(*) FROM "{table.name}" WHERE structure IS NULL').fetchone()
            assert missing == 0, table.name
            found = {s for (s,) in con.execute(f'SELECT DISTINCT structure FROM "{table.name}"').fetchall()}
            assert found <= set(network.finess), table.name
        (structures,) = con.execute("SELECT count(DISTINCT structure) FROM visit_occurrence").fetchone()
        assert structures == 3
    finally:
        inst.close()


def test_one_structure_sees_its_rows_only(network: LoadedNetwork) -> None:
    inst = network.open()
    try:
        con = inst.warehouse.duckdb
        for finess in network.finess:
            view = ScopedTables(inst.warehouse, Scope.of([finess]))
            expected = {
                p for (p,) in con.execute("SELECT person_id FROM person WHERE structure = ?", [finess]).fetchall()
            }
            assert persons(view) == expected and expected
            visits = view.execute(view.table("visit_occurrence").count())
            (direct,) = con.execute("SELECT count(*) FROM visit_occurrence WHERE structure = ?", [finess]).fetchone()
            assert visits == direct > 0
    finally:
        inst.close()


def test_a_person_seen_by_two_structures_counts_once(network: LoadedNetwork) -> None:
    inst = network.open()
    try:
        whole = ScopedTables(inst.warehouse, Scope.network())
        rows = whole.execute(whole.table("person").select("person_id"))
        assert rows.person_id.is_unique
        seen = [persons(ScopedTables(inst.warehouse, Scope.of([f]))) for f in network.finess]
        assert sum(len(s) for s in seen) > len(rows)  # some persons are seen by two structures
        assert set().union(*seen) == set(rows.person_id)
        pair = ScopedTables(inst.warehouse, Scope.of(network.finess[:2], "CPTS test"))
        assert persons(pair) == seen[0] | seen[1]
        spans = pair.execute(pair.table("observation_period").select("person_id"))
        assert spans.person_id.is_unique and set(spans.person_id) <= seen[0] | seen[1]
    finally:
        inst.close()


def test_a_scope_never_widens(network: LoadedNetwork) -> None:
    inst = network.open()
    try:
        a, b, c = network.finess
        pair = ScopedTables(inst.warehouse, Scope.of([a, b]))
        for wider in (Scope.network(), Scope.of([a, c]), Scope.of([c])):
            with pytest.raises(ScopeError, match="hors de votre périmètre"):
                ScopedTables(pair, wider)
        narrowed = ScopedTables(pair, Scope.of([a]))
        assert narrowed.scope == Scope.of([a]) and persons(narrowed) == persons(
            ScopedTables(inst.warehouse, Scope.of([a]))
        )
    finally:
        inst.close()


def test_another_structures_load_never_changes_a_structures_view(network: LoadedNetwork) -> None:
    """A shared person's row as structure B loaded it changes; A's view of that person does not."""
    inst = network.open()
    try:
        a, b, _ = network.finess
        con = inst.warehouse.duckdb
        shared = con.execute(f"{SHARED}", [a, b]).fetchall()
        assert shared
        mine = ScopedTables(inst.warehouse, Scope.of([a]))
        before = mine.execute(mine.table("person").order_by("person_id"))
        con.execute("UPDATE person SET year_of_birth = 1900, gender_concept_id = 0 WHERE structure = ?", [b])
        con.execute("DELETE FROM visit_occurrence WHERE structure = ?", [b])
        after = mine.execute(mine.table("person").order_by("person_id"))
        assert before.equals(after)
    finally:
        inst.close()


def test_attribution_partitions_the_network(network: LoadedNetwork) -> None:
    inst = network.open()
    try:
        chosen = inst.warehouse.execute(attribution(inst.warehouse, ON))
        assert chosen.person_id.is_unique
        assert set(chosen.person_id) == persons(ScopedTables(inst.warehouse, Scope.network()))
        views = [ScopedTables(inst.warehouse, Scope.of([f]).attributed(ON)) for f in network.finess]
        attributed = [persons(v) for v in views]
        assert sum(len(p) for p in attributed) == len(chosen)
        for finess, mine in zip(network.finess, attributed, strict=True):
            assert mine <= persons(ScopedTables(inst.warehouse, Scope.of([finess])))
    finally:
        inst.close()


def test_attribution_rule_declaration_then_contacts(network: LoadedNetwork) -> None:
    """A shared person goes to the structure of the médecin traitant declared on the date, even with fewer
    contacts there; without a declaration, to the structure with most contacts in the window."""
    inst = network.open()
    try:
        a, b, _ = network.finess
        con = inst.warehouse.duckdb
        (person,) = con.execute(
            f"{SHARED} ORDER BY 1 LIMIT 1",
            [a, b],
        ).fetchone()
        con.execute("DELETE FROM fr_mt_declaration WHERE person_id = ?", [person])
        con.execute("DELETE FROM visit_occurrence WHERE person_id = ?", [person])
        for structure, count in ((a, 1), (b, 3)):
            for i in range(count):
                con.execute(
                    "INSERT INTO visit_occurrence (visit_occurrence_id, person_id, visit_concept_id, visit_start_date, "
                    "visit_type_concept_id, structure) VALUES (?, ?, 0, ?, 0, ?)",
                    [hash((structure, i)) % 10**12, person, ON - dt.timedelta(days=30 + i), structure],
                )

        def attributed() -> tuple[str, str]:
            frame = inst.warehouse.execute(attribution(inst.warehouse, ON))
            row = frame[frame.person_id == person].iloc[0]
            return row.structure, row.rule

        assert attributed() == (b, "contacts")
        con.execute(
            "INSERT INTO fr_mt_declaration (mt_declaration_id, person_id, provider_id, start_date, structure) "
            "VALUES (1, ?, 1, ?, ?)",
            [person, dt.date(2024, 1, 1), a],
        )
        assert attributed() == (a, "mt")
        con.execute(
            "UPDATE fr_mt_declaration SET end_date = ? WHERE mt_declaration_id = 1", [ON - dt.timedelta(days=1)]
        )
        assert attributed() == (b, "contacts")
        con.execute(
            "UPDATE visit_occurrence SET visit_start_date = visit_start_date - INTERVAL 3 YEAR WHERE person_id = ?",
            [person],
        )
        assert attributed()[1] == "last"
    finally:
        inst.close()


# -- the same views on every engine -------------------------------------------------------------------------------

ENGINE_TABLES = ["person", "visit_occurrence", "fr_mt_declaration", "observation_period", "provider", "etl_batch"]


def view_summary(tables: Tables, scope: Scope) -> dict[str, object]:
    """What a scope sees, reduced to comparable values: persons, births, visits, spans, providers, attribution."""
    view = ScopedTables(tables, scope)
    person = view.table("person")
    spans = view.table("observation_period")
    chosen = attribution(tables, ON)

    def rows(expr: ir.Table) -> list[tuple]:
        return sorted(tuple(r.values()) for r in view.to_pyarrow(expr).to_pylist())

    return {
        "persons": rows(person.select("person_id", "year_of_birth", "structure")),
        "visits": int(view.execute(view.table("visit_occurrence").count())),
        "spans": rows(spans.select("person_id", "observation_period_start_date", "observation_period_end_date")),
        "providers": int(view.execute(view.table("provider").count())),
        "attributed": rows(chosen.select("person_id", "structure", "rule")),
    }


def test_same_views_on_postgres_and_spark(network: LoadedNetwork, postgres_url: str, spark_session) -> None:
    inst = network.open()
    a, b, _ = network.finess
    scopes = [Scope.network(), Scope.of([a]), Scope.of([a, b]), Scope.of([b]).attributed(ON)]
    try:
        expected = [view_summary(inst.warehouse, scope) for scope in scopes]
        replicas = {
            "postgres": Warehouse.connect(new_database(postgres_url)),
            "pyspark": new_spark_warehouse(spark_session),
        }
        for engine, replica in replicas.items():
            try:
                replicate(inst.warehouse, replica, ENGINE_TABLES)
                assert [view_summary(replica, scope) for scope in scopes] == expected, engine
            finally:
                replica.close()
    finally:
        inst.close()


def test_a_structures_measures_are_those_of_the_structure_loaded_alone(network: LoadedNetwork, tmp_path: Path) -> None:
    """Scoping costs nothing in correctness: every measure of structure A read through its scope on the
    network warehouse equals the same measure on a warehouse where A alone was loaded."""
    plan = network.summary.plans[0]
    alone = open_installation(Settings(home=tmp_path / "alone"))
    inst = network.open()
    try:
        folder = plan.folder(network.summary.options)
        FORMATS[plan.source.drop_format].load(folder, alone, load_source(plan.finess), structure=plan.finess)
        period = parse_period("2025")
        scoped = results.run(ScopedTables(inst.warehouse, Scope.of([plan.finess])), period).table
        single = results.run(alone.warehouse, period).table
        pd.testing.assert_frame_equal(scoped, single)
        assert scoped.denominator.sum() > 0
        whole = results.run(inst.warehouse, period).table
        assert not whole.denominator.equals(scoped.denominator)  # the network's differ: the test can fail
    finally:
        inst.close()
        alone.close()

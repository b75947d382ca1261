"""``proxisante ingest PATH --structure FINESS``: only a registered structure, member on the load day, loads; its
FINESS becomes the load's source and is recorded on the batch; two structures loading the same export get
disjoint ids except ``person_id`` (and the national keys: RPPS, commune); a warehouse created before the
``etl_batch.structure`` column still opens."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest
from typer.testing import CliRunner

import tests.lib.pivot_fixture as fx
from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.ingest import FORMATS
from proxisante.installation import Installation, open_installation
from proxisante.network.structures import StructureRegistry, load_source, parse, with_key
from proxisante.settings import Settings
from proxisante.warehouse.connection import Warehouse
from tests.lib.engines import new_database

A, B = with_key("23000001"), with_key("87000001")
# Tables whose ids the export's own keys make, namespaced by source: never shared by two structures.
SOURCE_SCOPED = (
    "visit_occurrence",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "measurement",
    "care_site",
    "cost",
    "payer_plan_period",
    "fr_mt_declaration",
    "fr_coverage_period",
    "fr_billed_act",
)


@pytest.fixture()
def runner(home: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 200)
    return CliRunner()


def register(finess: str, joined: str = "2024-01-01") -> StructureRegistry:
    registry = StructureRegistry.installed(Settings())
    registry.add(parse({"finess": finess, "nom": f"CDS {finess}", "type": "CDS", "adhesion": joined}))
    return registry


def batches() -> list[tuple[str, str | None]]:
    inst = open_installation(Settings())
    try:
        return inst.warehouse.duckdb.execute("SELECT source, structure FROM etl_batch ORDER BY source").fetchall()
    finally:
        inst.close()


def test_ingest_with_a_registered_structure(runner: CliRunner, tmp_path: Path) -> None:
    register(A)
    folder = fx.write(tmp_path / "export")
    result = runner.invoke(app, ["ingest", str(folder), "--structure", A])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["ingest", str(folder), "--structure", A, "--source", "weda"])
    assert result.exit_code == 0, result.output
    assert batches() == [(A, A), (f"{A}/weda", A)]


@pytest.mark.parametrize("case", ["unknown", "left", "not_yet"])
def test_refused_structures_load_nothing(runner: CliRunner, tmp_path: Path, case: str) -> None:
    if case == "left":
        register(A).leave(A, dt.date.today())
    elif case == "not_yet":
        register(A, (dt.date.today() + dt.timedelta(days=10)).isoformat())
    folder = fx.write(tmp_path / "export")
    result = runner.invoke(app, ["ingest", str(folder), "--structure", A])
    assert result.exit_code == 2, result.output
    expected = {"unknown": "structure inconnue", "left": "a quitté le réseau", "not_yet": "n'adhère au réseau"}
    assert "Structure refusée, rien n'a été chargé" in result.output and expected[case] in result.output
    assert batches() == []


def test_without_structure_nothing_changes(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(fx.write(tmp_path / "export"))])
    assert result.exit_code == 0, result.output
    assert batches() == [("default", None)]


def test_two_structures_same_export_disjoint_ids_but_one_person(installation: Installation, tmp_path: Path) -> None:
    folder = fx.write(tmp_path / "export")
    FORMATS["pivot"].load(folder, installation, load_source(A), structure=A)
    con = installation.warehouse.duckdb
    first = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (*SOURCE_SCOPED, "person")}
    persons = {r[0] for r in con.execute("SELECT person_id FROM person").fetchall()}
    FORMATS["pivot"].load(folder, installation, load_source(B), structure=B)
    for table in SOURCE_SCOPED:
        (count,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert first[table] > 0 and count == 2 * first[table], table  # no id of B met one of A
    assert {r[0] for r in con.execute("SELECT person_id FROM person").fetchall()} == persons
    assert con.execute("SELECT structure FROM etl_batch ORDER BY structure").fetchall() == [(A,), (B,)]


def test_a_warehouse_without_the_structure_column_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    Warehouse.connect(f"duckdb://{path}").close()
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE etl_batch DROP COLUMN structure")
    con.execute("INSERT INTO etl_batch (batch_id, source, files) VALUES ('b1', 'default', 1)")
    con.close()
    warehouse = Warehouse.connect(f"duckdb://{path}")
    try:
        assert not warehouse.schema_mismatches()
        assert warehouse.duckdb.execute("SELECT batch_id, structure FROM etl_batch").fetchall() == [("b1", None)]
    finally:
        warehouse.close()


def test_a_postgres_warehouse_without_the_structure_column_opens(postgres_url: str) -> None:
    import psycopg

    url = new_database(postgres_url)
    Warehouse.connect(url).close()
    parts = urlsplit(url)
    with psycopg.connect(
        host=parts.hostname, port=parts.port, user=parts.username, dbname=parts.path[1:], autocommit=True
    ) as con:
        con.execute("ALTER TABLE etl_batch DROP COLUMN structure")
    warehouse = Warehouse.connect(url)
    try:
        assert not warehouse.schema_mismatches()
        assert "structure" in warehouse.table("etl_batch").columns
    finally:
        warehouse.close()

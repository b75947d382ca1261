"""Freshness and volume per structure (issue 15, item 5): the last extract of each structure, the rows loaded
per table and month of load, the alerts (no extract for more than N days, a table under a share of its
trailing median, a member that never sent anything), in ``proxisante status`` and on the quality page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import tests.lib.pivot_fixture as fx
from proxisante.cli import app
from proxisante.cli.common import console
from proxisante.ingest import FORMATS
from proxisante.installation import Installation, open_installation
from proxisante.network.freshness import OUTSIDE, PARAMETERS, Freshness, Thresholds, freshness, monthly_volumes
from proxisante.network.structures import StructureRegistry, load_source, parse, with_key
from proxisante.settings import Settings
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.replicate import replicate
from proxisante.web.security.accounts import AccountStore
from tests.lib.engines import new_database, new_spark_warehouse
from tests.lib.web import PASSWORD, login, make_app

A, B, C = with_key("23000001"), with_key("87000001"), with_key("19000001")
ON = dt.date(2026, 12, 5)
LIMITS = Thresholds(silence_days=45, volume_share=0.5, volume_months=6)


def register(settings: Settings, *finess: str) -> list:
    registry = StructureRegistry.installed(settings)
    for number in finess:
        registry.add(parse({"finess": number, "nom": f"CDS {number}", "type": "CDS", "adhesion": "2024-01-01"}))
    return registry.all()


def add_batch(inst: Installation, batch_id: str, structure: str | None, when: dt.datetime, **rows: int) -> None:
    """A committed batch and one manifest row per table, written directly (a month series without loads)."""
    con = inst.warehouse.duckdb
    source = structure or "default"
    con.execute(
        "INSERT INTO etl_batch (batch_id, source, started_at, committed_at, files, rows_read, rows_loaded, "
        "rows_quarantined, structure) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
        [batch_id, source, when, when, len(rows), sum(rows.values()), sum(rows.values()), structure],
    )
    for table, count in rows.items():
        con.execute(
            "INSERT INTO etl_manifest (batch_id, source, pivot_table, file_name, sha256, size_bytes, encoding, "
            "delimiter, rows_read, rows_loaded, rows_quarantined, loaded_at) "
            "VALUES (?, ?, ?, ?, ?, 0, 'utf-8', ';', ?, ?, 0, ?)",
            [batch_id, source, table, f"{table}.csv", f"{batch_id}/{table}", count, count, when],
        )


def monthly(inst: Installation, structure: str, latest: int, previous: tuple[int, ...] = (100,) * 6) -> None:
    """Six months of 100 « resultats » and 40 « consultations », then ``latest`` results in November 2026."""
    for back, count in enumerate(reversed(previous), start=1):
        month = 11 - back
        add_batch(
            inst, f"{structure}-{month}", structure, dt.datetime(2026, month, 3, 2), resultats=count, consultations=40
        )
    add_batch(inst, f"{structure}-11", structure, dt.datetime(2026, 11, 3, 2), resultats=latest, consultations=40)


def by_name(result: Freshness) -> dict[str, object]:
    return {row.finess or OUTSIDE: row for row in result.structures}


def test_parameters_are_dated_sourced_and_unconfirmed() -> None:
    assert Thresholds.current() == Thresholds(
        PARAMETERS.value("silence_days"), PARAMETERS.value("volume_share"), PARAMETERS.value("volume_months")
    )
    assert PARAMETERS.unconfirmed() == ["silence_days", "volume_share", "volume_months"]


def test_two_structures_loaded_last_extract_and_volumes(installation: Installation, tmp_path: Path) -> None:
    registry = register(installation.settings, A, B, C)
    folder = fx.write(tmp_path / "export")
    FORMATS["pivot"].load(folder, installation, load_source(A), structure=A)
    FORMATS["pivot"].load(folder, installation, load_source(B), structure=B)
    FORMATS["pivot"].load(folder, installation, "default")  # hors réseau
    con = installation.warehouse.duckdb
    con.execute("UPDATE etl_batch SET committed_at = TIMESTAMP '2026-11-20 08:00:00' WHERE structure = ?", [A])
    con.execute("UPDATE etl_batch SET committed_at = TIMESTAMP '2026-09-01 08:00:00' WHERE structure = ?", [B])
    con.execute("UPDATE etl_batch SET committed_at = TIMESTAMP '2026-10-15 08:00:00' WHERE structure IS NULL")

    result = freshness(installation.warehouse, ON, registry, LIMITS)
    rows = by_name(result)
    assert [row.finess for row in result.structures] == [*sorted((A, B, C)), None]  # by name, then hors réseau
    assert (rows[A].last_extract, rows[A].days, rows[A].alerts) == (dt.datetime(2026, 11, 20, 8), 15, ())
    assert rows[B].days == 95 and [a.kind for a in rows[B].alerts] == ["silence"]
    assert "aucun extrait depuis 95 jours (seuil : 45 jours)" in rows[B].alerts[0].message
    assert rows[C].last_extract is None and [a.kind for a in rows[C].alerts] == ["never"]
    assert "aucun extrait reçu" in rows[C].alerts[0].message
    assert rows[OUTSIDE].days == 51 and rows[OUTSIDE].alerts == ()  # nobody is expected to send « hors réseau »

    volumes = monthly_volumes(installation.warehouse)
    manifest = con.execute("SELECT pivot_table, sum(rows_loaded) FROM etl_manifest WHERE source = ? GROUP BY 1", [A])
    expected = {table: int(count) for table, count in manifest.fetchall()}
    mine = volumes[volumes.structure == A]
    assert set(mine.month) == {dt.date(2026, 11, 1)}
    assert dict(zip(mine.table, mine.rows, strict=True)) == expected and sum(expected.values()) > 0
    assert set(volumes[volumes.structure.isna()].month) == {dt.date(2026, 10, 1)}


@pytest.mark.parametrize(("days", "fires"), [(45, False), (46, True)])
def test_silence_alert_at_its_threshold(installation: Installation, days: int, fires: bool) -> None:
    registry = register(installation.settings, A)
    add_batch(installation, "b1", A, dt.datetime.combine(ON - dt.timedelta(days=days), dt.time(23, 59)), patients=3)
    (row,) = freshness(installation.warehouse, ON, registry, LIMITS).structures
    assert row.days == days
    assert [a.kind for a in row.alerts] == (["silence"] if fires else [])


def test_no_silence_alert_for_a_structure_that_left(installation: Installation) -> None:
    register(installation.settings, A)
    registry = StructureRegistry.installed(installation.settings)
    registry.leave(A, dt.date(2026, 6, 1))
    add_batch(installation, "b1", A, dt.datetime(2026, 5, 1), patients=3)
    (row,) = freshness(installation.warehouse, ON, registry.all(), LIMITS).structures
    assert row.days > 45 and row.alerts == ()


@pytest.mark.parametrize(("latest", "fires"), [(50, False), (49, True), (0, True)])
def test_volume_alert_at_its_threshold(installation: Installation, latest: int, fires: bool) -> None:
    registry = register(installation.settings, A, B)
    monthly(installation, A, latest, previous=(100, 100, 100, 100, 100, 100))
    monthly(installation, B, 100, previous=(100, 100, 100, 100, 100, 100))
    rows = by_name(freshness(installation.warehouse, ON, registry, LIMITS))
    alerts = [a for a in rows[A].alerts if a.kind == "volume"]
    assert [a.table for a in alerts] == (["resultats"] if fires else [])
    if fires:
        assert alerts[0].message.startswith(f"resultats : {latest} lignes en 11/2026, moins de 50")
        assert "médiane des 6 mois précédents (100)" in alerts[0].message
    assert rows[B].alerts == ()  # same series, steady


def test_volume_median_over_the_previous_months_only(installation: Installation) -> None:
    """The median is over the K months before the latest (an old drop out of the window does not count;
    a month without a load of the table counts as 0); a structure with no earlier month gets no alert."""
    registry = register(installation.settings, A, B)
    add_batch(installation, "old", A, dt.datetime(2025, 1, 3), resultats=10_000)  # outside the 6 months
    monthly(installation, A, 60, previous=(0, 0, 120, 120, 120, 120))  # median 120 → 60 is not under 60
    add_batch(installation, "first", B, dt.datetime(2026, 11, 3), resultats=1)
    rows = by_name(freshness(installation.warehouse, ON, registry, LIMITS))
    assert rows[A].alerts == () and rows[B].alerts == ()
    rows = by_name(freshness(installation.warehouse, ON, registry, Thresholds(45, 0.51, 6)))
    assert [a.table for a in rows[A].alerts] == ["resultats"]


# -- proxisante status ---------------------------------------------------------------------------------------


@pytest.fixture()
def runner(home: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(console, "_width", 250)
    return CliRunner()


def test_status_of_a_single_centre_has_no_freshness_table(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["ingest", str(fx.write(tmp_path / "export"))]).exit_code == 0
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "Rejets par motif" in result.output and "Fraîcheur" not in result.output


def test_status_prints_freshness_per_structure(runner: CliRunner, tmp_path: Path) -> None:
    settings = Settings()
    register(settings, A, B)
    folder = fx.write(tmp_path / "export")
    assert runner.invoke(app, ["ingest", str(folder), "--structure", A]).exit_code == 0
    inst = open_installation(settings)
    try:
        monthly(inst, B, 10)
    finally:
        inst.close()
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("Rejets par motif") < out.index("Fraîcheur par structure")
    for text in (f"CDS {A}", A, f"CDS {B}", B, dt.date.today().strftime("%d/%m/%Y"), "03/11/2026", "aucune"):
        assert text in out, text
    assert "resultats : 10 lignes en 11/2026" in out
    days = (dt.date.today() - dt.date(2026, 11, 3)).days
    assert (f"aucun extrait depuis {days} jours" in out) == (days > 45)
    assert "Seuils : aucun extrait depuis plus de 45 jours" in out


# -- the quality page ------------------------------------------------------------------------------------------


def test_quality_page_shows_freshness(home: Path, tmp_path: Path) -> None:
    settings = Settings(home=home, secure_cookies=False)
    register(settings, A, B, C)
    inst = open_installation(settings)
    try:
        FORMATS["pivot"].load(fx.write(tmp_path / "export"), inst, load_source(A), structure=A)
        monthly(inst, B, 10)
    finally:
        inst.close()
    store = AccountStore(settings.accounts)
    for role in ("gestionnaire", "chercheur"):
        store.add(role, PASSWORD, [role], display_name=role)
    application = make_app(settings)
    try:
        client = TestClient(application, base_url="http://127.0.0.1")
        login(client, "gestionnaire")
        page = client.get("/qualite")
        assert page.status_code == 200
        text = page.text
        assert "<h2>Fraîcheur par structure</h2>" in text and 'id="freshness"' in text
        for value in (f"CDS {A}", f"CDS {C}", "03/11/2026", "aucun extrait reçu", "resultats : 10 lignes en 11/2026"):
            assert value in text, value
        assert 'id="volumes"' in text
        other = TestClient(application, base_url="http://127.0.0.1")
        login(other, "chercheur")
        assert other.get("/qualite", follow_redirects=False).status_code == 403
    finally:
        application.state.web.installation.close()


# -- the same answers on every engine ---------------------------------------------------------------------------


def test_same_freshness_on_postgres_and_spark(installation: Installation, postgres_url: str, spark_session) -> None:
    registry = register(installation.settings, A, B, C)
    monthly(installation, A, 10)
    monthly(installation, B, 100)
    add_batch(installation, "outside", None, dt.datetime(2026, 10, 15, 23, 30), patients=7)
    expected = freshness(installation.warehouse, ON, registry, LIMITS)
    replicas = {
        "postgres": Warehouse.connect(new_database(postgres_url)),
        "pyspark": new_spark_warehouse(spark_session),
    }
    for engine, replica in replicas.items():
        try:
            replicate(installation.warehouse, replica, ["etl_batch", "etl_manifest"])
            got = freshness(replica, ON, registry, LIMITS)
            assert got.structures == expected.structures, engine
            pd.testing.assert_frame_equal(got.volumes, expected.volumes, check_dtype=False, obj=engine)
        finally:
            replica.close()

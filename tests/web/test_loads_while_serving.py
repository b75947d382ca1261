"""Loads while the server serves (issue 15, item 4): the app's drop-folder worker loads an extract on a
connection of its own; a page read during the load answers and sees the last committed state, and the
new batch once it has committed."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tests.lib.pivot_fixture as fx
from proxisante.ingest.dropfolders import ARCHIVE, MARKER, depot_root
from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.network.structures import Structure, StructureRegistry, with_key
from proxisante.settings import Settings
from proxisante.warehouse import load as warehouse_load
from proxisante.web import services as web_services
from proxisante.web.app import create_app
from proxisante.web.security.accounts import AccountStore
from tests.lib.web import PASSWORD, login

FINESS = with_key("87000001")


def second_extract(folder: Path) -> Path:
    """The same centre a month later: one more patient (new files, so a new batch)."""
    tables = {name: [dict(row) for row in rows] for name, rows in fx.TABLES.items()}
    extra = dict(tables["patients"][0], patient_id="P9", ins=fx.nir("2700175056999"), family_name="Nouvelle")
    tables["patients"].append(extra)
    return fx.write(folder, tables)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home", secure_cookies=False)
    StructureRegistry.installed(settings).add(
        Structure(finess=FINESS, name="Centre de santé de Limoges", type="CDS", joined=dt.date(2024, 1, 1)), by="test"
    )
    installation = open_installation(settings)
    try:
        load_pivot(fx.write(tmp_path / "first"), installation, source=FINESS)
    finally:
        installation.close()
    AccountStore(settings.accounts).add("admin", PASSWORD, ["admin"], display_name="Admin")
    return settings


def test_a_page_read_during_a_load_answers_with_the_last_committed_state(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_services, "BATCH_TTL_SECONDS", 0.0)  # the last batch re-read at every request
    inside, release = threading.Event(), threading.Event()
    rebuild = warehouse_load.rebuild_observation_periods

    def held_open(warehouse):  # the last step inside the load's transaction: the rows are written, not committed
        rebuild(warehouse)
        inside.set()
        assert release.wait(60), "the test never released the load"

    monkeypatch.setattr(warehouse_load, "rebuild_observation_periods", held_open)
    installation = open_installation(settings)
    app = create_app(settings, installation, poll_seconds=0.05)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            login(client, "admin")
            before = client.get("/api/status").json()
            persons = {t["table"]: t["rows"] for t in before["tables"]}["person"]
            assert client.get("/").status_code == 200

            extract = second_extract(depot_root(settings) / FINESS / "export-2")
            (extract / MARKER).touch()
            assert inside.wait(60), "the worker did not take the extract"

            # the load holds its transaction open: pages answer, with the last committed state
            page = client.get("/")
            assert page.status_code == 200 and f"lot {before['batch_id']}" in page.text
            app.state.web.services.forget()  # read the warehouse now, not a cached answer
            during = client.get("/api/status")
            assert during.status_code == 200
            assert during.json()["batch_id"] == before["batch_id"]
            assert {t["table"]: t["rows"] for t in during.json()["tables"]}["person"] == persons

            release.set()
            archived = depot_root(settings) / FINESS / ARCHIVE / "export-2"
            for _ in range(600):
                if archived.is_dir():
                    break
                threading.Event().wait(0.05)
            assert archived.is_dir()

            after = client.get("/api/status").json()
            assert after["batch_id"] != before["batch_id"]
            assert {t["table"]: t["rows"] for t in after["tables"]}["person"] == persons + 1
            page = client.get("/")
            assert page.status_code == 200 and f"lot {after['batch_id']}" in page.text
    finally:
        release.set()
        installation.close()


def test_the_worker_stops_with_the_app(settings: Settings) -> None:
    installation = open_installation(settings)
    app = create_app(settings, installation, poll_seconds=0.05)
    try:
        with TestClient(app):
            worker = app.state.drop_folders
            assert worker._thread is not None and worker._thread.is_alive()
        assert not worker._thread.is_alive()
    finally:
        installation.close()

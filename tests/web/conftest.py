"""A small synthetic centre loaded once for the web tests, with the communes fixture as territory reference."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from proxisante.ingest.pivot.load import load_pivot
from proxisante.installation import open_installation
from proxisante.settings import Settings
from proxisante.synth import SynthOptions, generate_centre
from proxisante.territory.communes import load_reference, reference_path
from proxisante.web.app import create_app
from proxisante.web.security.accounts import AccountStore

PATIENTS = 300
PASSWORD = "Web-tests-2026!"
COMMUNES = Path(__file__).parent.parent / "data" / "territory" / "communes-23-87.csv"


@dataclass
class Centre:
    settings: Settings
    soignant_rpps: str
    other_rpps: str
    own_patient: int
    other_patient: int


@pytest.fixture(scope="session")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Centre:
    """Synthetic centre (with export defects, so that the quarantine is not empty), loaded once."""
    home = tmp_path_factory.mktemp("web-home")
    settings = Settings(home=home, secure_cookies=False)
    out = tmp_path_factory.mktemp("web-synth") / "centre"
    generate_centre(SynthOptions(patients=PATIENTS, seed=7, out=out, file_format="csv", defects=True))
    installation = open_installation(settings)
    try:
        load_pivot(out, installation.warehouse, installation.vault, installation.pseudonymiser, source="web")
    finally:
        installation.close()
    target = reference_path(settings.home_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    load_reference(COMMUNES).to_parquet(target)
    store = AccountStore(settings.accounts)
    app = create_app(settings)
    panel = app.state.web.services.panel_mt(pd.Timestamp("2025-12-31").date())
    # A plan is opened by the patient's current médecin traitant: patients who still have theirs today.
    current = app.state.web.services.panel_mt(dt.date.today())
    app.state.web.installation.close()
    by_provider = pd.Series(panel).value_counts()
    soignant, other = str(by_provider.index[0]), str(by_provider.index[1])
    own = next(p for p, r in panel.items() if r == soignant and current.get(p) == soignant)
    foreign = next(p for p, r in panel.items() if r == other and current.get(p) == other)
    for role in ("soignant", "coordinateur", "gestionnaire", "chercheur", "admin"):
        store.add(role, PASSWORD, [role], rpps=soignant if role == "soignant" else None, display_name=role.title())
    return Centre(settings, soignant, other, own, foreign)


def make_app(settings: Settings):
    """An application over an installation the test owns: the server's shutdown (a TestClient or uvicorn
    leaving) must not close the warehouse under the other tests."""
    return create_app(settings, open_installation(settings))


@pytest.fixture(scope="session")
def app(centre: Centre):
    application = make_app(centre.settings)
    yield application
    application.state.web.installation.close()


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Signs in through the form; returns the session's CSRF token (read from the page)."""
    page = client.get("/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    response = client.post(
        "/connexion",
        data={"username": username, "password": password, "csrf_token": token, "suite": "/administration"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    me = client.get("/api/me")
    assert me.status_code == 200
    return me.json()["csrf_token"]


@pytest.fixture(scope="session")
def clients(app, centre: Centre) -> dict[str, tuple[TestClient, str]]:
    """One signed-in client per role, with its CSRF token."""
    out = {}
    for role in ("soignant", "coordinateur", "gestionnaire", "chercheur", "admin"):
        client = TestClient(app, base_url="http://127.0.0.1")
        out[role] = (client, login(client, role))
    return out

"""A small synthetic centre loaded once for the web tests, with the communes fixture as territory reference."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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
from tests.lib.paths import TEST_DATA
from tests.lib.web import PASSWORD, login, make_app

PATIENTS = 300
# The roles of a single centre (empty registry): a cpts account needs a CPTS in the registry (tests/web/test_scopes.py).
CENTRE_ROLES = ("soignant", "coordinateur", "gestionnaire", "chercheur", "reseau", "admin")
COMMUNES = TEST_DATA / "territory" / "communes-23-87.csv"


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
        load_pivot(out, installation, source="web")
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
    for role in CENTRE_ROLES:
        store.add(role, PASSWORD, [role], rpps=soignant if role == "soignant" else None, display_name=role.title())
    return Centre(settings, soignant, other, own, foreign)


@pytest.fixture(scope="session")
def app(centre: Centre):
    application = make_app(centre.settings)
    yield application
    application.state.web.installation.close()


@pytest.fixture(scope="session")
def clients(app, centre: Centre) -> dict[str, tuple[TestClient, str]]:
    """One signed-in client per role, with its CSRF token."""
    out = {}
    for role in CENTRE_ROLES:
        client = TestClient(app, base_url="http://127.0.0.1")
        out[role] = (client, login(client, role))
    return out

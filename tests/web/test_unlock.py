"""A rate-limited account: the 429 page is the login form (another person signs in from it), the administration
page says which account is blocked, and an admin unlocks it (audited; a structure's admin only its own)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from proxisante.definitions import ParameterFile
from tests.lib.web import PASSWORD, login, make_app

SECURITY = ParameterFile("proxisante.web.security", "security.yaml")


@pytest.fixture()
def fresh(centre):
    """An application of its own: its rate limiter starts empty."""
    application = make_app(centre.settings)
    yield application
    application.state.web.installation.close()


def _attempt(client: TestClient, username: str, password: str):
    page = client.get("/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    return client.post(
        "/connexion", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False
    )


def _block(client: TestClient, username: str):
    failures = int(SECURITY.value("login_failures_per_account")["failures"])
    for _ in range(failures):
        assert _attempt(client, username, "mauvais-mot-de-passe").status_code == 401
    return _attempt(client, username, PASSWORD)


def test_the_429_page_is_a_login_form_another_user_signs_in_from(fresh) -> None:
    client = TestClient(fresh, base_url="http://127.0.0.1")
    blocked = _block(client, "chercheur")
    assert blocked.status_code == 429
    text = unescape(blocked.text)
    assert "Trop de tentatives" in text and "réessayez dans 15 minute(s)" in text and "débloquer le compte" in text
    assert 'action="/connexion"' in text and 'name="password"' in text
    token = re.search(r'name="csrf_token" value="([^"]+)"', blocked.text)[1]  # type: ignore[index]
    other = client.post(
        "/connexion",
        data={"username": "gestionnaire", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert other.status_code == 303  # the form of the 429 page works, for another account
    assert client.get("/api/me").json()["username"] == "gestionnaire"


def test_an_admin_sees_the_blocked_account_and_unlocks_it(fresh) -> None:
    stranger = TestClient(fresh, base_url="http://127.0.0.1")
    assert _block(stranger, "chercheur").status_code == 429
    admin = TestClient(fresh, base_url="http://127.0.0.1")
    csrf = login(admin, "admin")
    listed = {a["username"]: a["blocked_seconds"] for a in admin.get("/api/accounts").json()}
    assert 14 * 60 < listed["chercheur"] <= 15 * 60 and listed["gestionnaire"] is None
    page = unescape(admin.get("/administration").text)
    assert "bloqué (trop d'échecs de connexion, encore 15 min)" in page
    assert 'action="/administration/comptes/chercheur/debloquer"' in page
    assert 'action="/administration/comptes/gestionnaire/debloquer"' not in page
    refused = admin.post("/administration/comptes/chercheur/debloquer")  # no CSRF token
    assert refused.status_code == 403
    assert _attempt(stranger, "chercheur", PASSWORD).status_code == 429
    done = admin.post("/administration/comptes/chercheur/debloquer", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303 and "Compte%20chercheur%20d%C3%A9bloqu%C3%A9" in done.headers["location"]
    assert _attempt(stranger, "chercheur", PASSWORD).status_code == 303
    audit = admin.get("/api/audit?limit=5").json()["rows"]
    assert [(r["action"], r["detail"]) for r in audit if r["action"] == "compte débloqué"][:1] == [
        ("compte débloqué", "chercheur")
    ]
    again = admin.post("/administration/comptes/chercheur/debloquer", data={"csrf_token": csrf}, follow_redirects=False)
    assert "n%27%C3%A9tait%20pas%20bloqu%C3%A9" in again.headers["location"]
    unknown = admin.post(
        "/administration/comptes/personne/debloquer", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert "Compte%20inconnu" in unknown.headers["location"]


@pytest.mark.parametrize("role", ["soignant", "coordinateur", "gestionnaire", "chercheur", "reseau"])
def test_only_an_admin_unlocks(clients, role: str) -> None:
    client, csrf = clients[role]
    response = client.post("/administration/comptes/chercheur/debloquer", data={"csrf_token": csrf})
    assert response.status_code == 403

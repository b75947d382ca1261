"""Accounts, sessions, CSRF, rate limiting, audit chain and the users command."""

from __future__ import annotations

import duckdb
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from proxisante.cli import app as cli
from proxisante.definitions import ParameterFile
from proxisante.web.security.accounts import AccountError, AccountStore
from proxisante.web.security.audit import AuditLog
from tests.lib.web import PASSWORD, login, make_app

SECURITY = ParameterFile("proxisante.web.security", "security.yaml")


@pytest.fixture(scope="module")
def fresh(centre):
    """An application of its own: its rate limiter and sessions start empty."""
    application = make_app(centre.settings)
    yield application
    application.state.web.installation.close()


def test_passwords_are_argon2_hashes_and_checked(tmp_path) -> None:
    store = AccountStore(tmp_path / "accounts.duckdb")
    store.add("alice", "Correct-horse-1", ["gestionnaire"])
    with store.connect() as con:
        stored = con.execute("SELECT password_hash FROM account").fetchone()[0]
    assert stored.startswith("$argon2id$") and "Correct-horse-1" not in stored
    assert store.verify("alice", "Correct-horse-1").roles == ("gestionnaire",)
    assert store.verify("alice", "correct-horse-1") is None
    assert store.verify("nobody", "Correct-horse-1") is None
    store.disable("alice")
    assert store.verify("alice", "Correct-horse-1") is None


@pytest.mark.parametrize(
    ("username", "password", "roles", "rpps", "message"),
    [
        ("Bob!", "Correct-horse-1", ["admin"], None, "identifiant"),
        ("bob", "Short-1!", ["admin"], None, "trop court"),
        ("bob", "nouppercase-123", ["admin"], None, "majuscules"),
        ("bob", "Correct-horse-1", ["docteur"], None, "rôle inconnu"),
        ("bob", "Correct-horse-1", ["soignant"], None, "RPPS"),
        ("bob", "Correct-horse-1", ["soignant"], "123", "11 chiffres"),
    ],
)
def test_accounts_refused_with_the_reason(tmp_path, username, password, roles, rpps, message) -> None:
    with pytest.raises(AccountError, match=message):
        AccountStore(tmp_path / "accounts.duckdb").add(username, password, roles, rpps=rpps)


def test_session_cookie_attributes(centre) -> None:
    secure = make_app(centre.settings.model_copy(update={"secure_cookies": True}))
    try:
        client = TestClient(secure, base_url="https://127.0.0.1")
        login(client, "gestionnaire")
        page = client.get("/connexion")
        assert page.status_code == 200
        response = client.post(
            "/connexion",
            data={"username": "gestionnaire", "password": PASSWORD, "csrf_token": "x"},
            follow_redirects=False,
        )
        assert response.status_code == 403  # login form token missing from the cookie / not matching
        token_page = client.get("/connexion")
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', token_page.text)[1]
        response = client.post(
            "/connexion",
            data={"username": "gestionnaire", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        cookie = response.headers["set-cookie"].lower()
        assert "proxisante_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert "secure" in cookie
    finally:
        secure.state.web.installation.close()


def test_post_without_or_with_a_wrong_csrf_token_is_refused(fresh) -> None:
    client = TestClient(fresh, base_url="http://127.0.0.1")
    csrf = login(client, "admin")
    data = {"username": "eve", "password": "Correct-horse-1", "roles": ["admin"]}
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = client.post("/administration/comptes", data=data, headers=headers, follow_redirects=False)
        assert response.status_code == 403
    assert fresh.state.web.accounts.get("eve") is None
    response = client.post("/administration/comptes", data={**data, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and fresh.state.web.accounts.get("eve") is not None


def test_login_rate_limited_per_account(fresh) -> None:
    client = TestClient(fresh, base_url="http://127.0.0.1")
    failures = SECURITY.value("login_failures_per_account")["failures"]
    import re

    def attempt(password: str):
        page = client.get("/connexion")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        return client.post(
            "/connexion",
            data={"username": "chercheur", "password": password, "csrf_token": token},
            follow_redirects=False,
        )

    for _ in range(failures):
        assert attempt("wrong-password").status_code == 401
    blocked = attempt(PASSWORD)
    assert blocked.status_code == 429 and "réessayez dans" in blocked.text


def test_login_never_redirects_to_another_site(fresh) -> None:
    client = TestClient(fresh, base_url="http://127.0.0.1")
    import re

    page = client.get("/connexion?suite=//evil.example/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    response = client.post(
        "/connexion",
        data={"username": "coordinateur", "password": PASSWORD, "csrf_token": token, "suite": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_disabled_account_loses_its_session(fresh, centre) -> None:
    store = AccountStore(centre.settings.accounts)
    store.add("temporaire", PASSWORD, ["gestionnaire"])
    client = TestClient(fresh, base_url="http://127.0.0.1")
    login(client, "temporaire")
    admin = TestClient(fresh, base_url="http://127.0.0.1")
    csrf = login(admin, "admin")
    admin.post("/administration/comptes/temporaire/desactiver", headers={"X-CSRF-Token": csrf})
    assert client.get("/api/me").status_code == 401


def test_audit_log_records_nominative_reads_and_detects_tampering(fresh, centre) -> None:
    client = TestClient(fresh, base_url="http://127.0.0.1")
    login(client, "coordinateur")
    rows = client.get("/api/gaps?limit=5&nominative=true").json()["rows"]
    assert rows and all(r["family_name"] for r in rows)
    log = AuditLog.installed(centre.settings)
    last = log.entries(1).iloc[0]
    assert last.username == "coordinateur" and last.route == "api_gaps"
    assert sorted(str(p) for p in last.person_ids) == sorted(r["person_id"] for r in rows)
    vault = fresh.state.web.installation.vault.access_log().to_pandas()
    assert "web:coordinateur" in set(vault.reader)
    assert log.verify() is None
    with duckdb.connect(str(centre.settings.accounts)) as con:
        con.execute("UPDATE audit_log SET detail = 'rien' WHERE seq = ?", [int(last.seq)])
    assert log.verify() == int(last.seq)
    admin = TestClient(fresh, base_url="http://127.0.0.1")
    login(admin, "admin")
    assert f"entrée n° {int(last.seq)} a été modifiée" in admin.get("/administration").text
    assert (
        admin.get("/api/audit").json()["chain_problem"]
        == f"l'entrée n° {int(last.seq)} a été modifiée, insérée ou supprimée"
    )
    with duckdb.connect(str(centre.settings.accounts)) as con:  # put it back for the other tests
        con.execute("UPDATE audit_log SET detail = ? WHERE seq = ?", [last.detail, int(last.seq)])
    assert log.verify() is None


def test_users_command(home, monkeypatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("NEW_PASSWORD", "Correct-horse-1")
    added = runner.invoke(cli, ["users", "add", "dr-martin", "-r", "soignant", "--rpps", "10000000001",
                                "--password-env", "NEW_PASSWORD"])  # fmt: skip
    assert added.exit_code == 0, added.output
    refused = runner.invoke(cli, ["users", "add", "x", "-r", "admin", "--password-env", "NEW_PASSWORD"])
    assert refused.exit_code == 2 and "identifiant" in refused.output
    listed = runner.invoke(cli, ["users", "list"])
    assert "dr-martin" in listed.output and "soignant" in listed.output and "actif" in listed.output
    assert runner.invoke(cli, ["users", "disable", "dr-martin"]).exit_code == 0
    assert "désactivé" in runner.invoke(cli, ["users", "list"]).output


def test_territory_before_the_communes_reference_is_built(tmp_path) -> None:
    from proxisante.settings import Settings

    settings = Settings(home=tmp_path / "home", secure_cookies=False)
    AccountStore(settings.accounts).add("carto", PASSWORD, ["gestionnaire"])
    application = make_app(settings)
    try:
        client = TestClient(application, base_url="http://127.0.0.1")
        login(client, "carto")
        page = client.get("/territoire")
        assert page.status_code == 200 and "proxisante territoire build" in page.text
        api = client.get("/api/territory/apl")
        assert api.status_code == 503 and "proxisante territoire build" in api.json()["detail"]
    finally:
        application.state.web.installation.close()

"""Separation of duties for accounts that read names, the address the login limit counts (trusted proxies
only), and the request-body size limit."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from proxisante.cli import app as cli
from proxisante.definitions import ParameterFile
from proxisante.web.security.accounts import AccountError, AccountStore
from tests.lib.web import login, make_app

SECURITY = ParameterFile("proxisante.web.security", "security.yaml")


@pytest.fixture(scope="module")
def fresh(centre):
    """An application of its own: its rate limiter and sessions start empty."""
    application = make_app(centre.settings)
    yield application
    application.state.web.installation.close()


# -- separation of duties ---------------------------------------------------------------------------------


@pytest.mark.parametrize("nominative", ["soignant", "coordinateur"])
def test_an_admin_account_cannot_also_read_names(tmp_path, nominative: str) -> None:
    store = AccountStore(tmp_path / "accounts.duckdb")
    with pytest.raises(AccountError, match="séparation des tâches"):
        store.add("mallory", "Correct-horse-1", ["admin", nominative], rpps="10000000001")
    assert store.get("mallory") is None


@pytest.mark.parametrize("roles", [["coordinateur"], ["soignant"], ["coordinateur", "gestionnaire"]])
def test_the_web_administration_creates_no_account_that_reads_names(fresh, roles: list[str]) -> None:
    """The attack: an admin creates a coordinateur account for themselves and reads every name."""
    client = TestClient(fresh, base_url="http://127.0.0.1")
    csrf = login(client, "admin")
    data = {"username": "complice", "password": "Correct-horse-1", "roles": roles, "rpps": "10000000001"}
    response = client.post("/administration/comptes", data={**data, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and "erreur=" in response.headers["location"]
    assert fresh.state.web.accounts.get("complice") is None
    page = client.get(response.headers["location"])
    assert "Séparation des tâches" in page.text and 'value="coordinateur"' not in page.text


def test_the_server_command_creates_them_but_never_with_admin(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PROXISANTE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NEW_PASSWORD", "Correct-horse-1")
    runner = CliRunner()
    both = runner.invoke(cli, ["users", "add", "chef", "-r", "admin", "-r", "coordinateur",
                               "--password-env", "NEW_PASSWORD"])  # fmt: skip
    assert both.exit_code == 2 and "séparation des tâches" in both.output
    alone = runner.invoke(cli, ["users", "add", "coord", "-r", "coordinateur", "--password-env", "NEW_PASSWORD"])
    assert alone.exit_code == 0, alone.output


# -- the address of a login attempt -----------------------------------------------------------------------


def _attempts(client: TestClient, count: int, headers: dict[str, str]) -> list[int]:
    codes = []
    for i in range(count):
        page = client.get("/connexion")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
        response = client.post(
            "/connexion",
            data={"username": f"inconnu-{i}", "password": "wrong-password", "csrf_token": token},
            headers={"X-Forwarded-For": f"198.51.100.{i}", **headers},
            follow_redirects=False,
        )
        codes.append(response.status_code)
    return codes


def test_x_forwarded_for_does_not_choose_the_address_by_default(centre) -> None:
    """Without trusted proxies, a client sending a new X-Forwarded-For each time is still one address."""
    application = make_app(centre.settings)
    try:
        client = TestClient(application, base_url="http://127.0.0.1")
        failures = SECURITY.value("login_failures_per_ip")["failures"]
        codes = _attempts(client, failures + 1, {})
        assert codes[:failures] == [401] * failures and codes[-1] == 429
    finally:
        application.state.web.installation.close()


def test_x_forwarded_for_is_read_from_a_trusted_proxy_only(centre) -> None:
    settings = centre.settings.model_copy(update={"trusted_proxies": ("testclient",)})
    application = make_app(settings)
    try:
        client = TestClient(application, base_url="http://127.0.0.1")
        failures = SECURITY.value("login_failures_per_ip")["failures"]
        assert 429 not in _attempts(client, failures + 1, {})  # each attempt from another client, behind the proxy
    finally:
        application.state.web.installation.close()


def test_serve_runs_uvicorn_without_its_proxy_headers(tmp_path, monkeypatch) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default: ``serve`` turns that off."""
    from types import SimpleNamespace

    import uvicorn

    from proxisante.cli import web

    monkeypatch.setenv("PROXISANTE_HOME", str(tmp_path))
    seen: dict = {}
    stub = SimpleNamespace(state=SimpleNamespace(web=SimpleNamespace(services=SimpleNamespace(warm=lambda: None))))
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    monkeypatch.setattr("proxisante.web.app.create_app", lambda settings, **wiring: stub)
    web.run_server("127.0.0.1", 8765)
    assert seen.get("proxy_headers") is False and seen.get("forwarded_allow_ips") == ""


# -- request body size ------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_in_french(clients) -> None:
    client, csrf = clients["gestionnaire"]
    limit = int(SECURITY.value("max_request_bytes"))
    big = b'{"draws": 200, "padding": "' + b"x" * (limit + 10) + b'"}'
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    declared = client.post("/api/economics/simulate", content=big, headers=headers)
    assert declared.status_code == 413 and "trop volumineuse" in declared.json()["detail"]

    def chunks():  # no Content-Length: the limit holds while the body is read
        yield b'{"draws": 200, "padding": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = client.post("/api/economics/simulate", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and "trop volumineuse" in streamed.json()["detail"]
    page = client.post("/economie/simulation", content=big, headers={**headers, "Content-Type": "text/plain"})
    assert page.status_code == 413 and "trop volumineuse" in page.text
    small = client.post("/api/economics/simulate", json={"draws": 200}, headers={"X-CSRF-Token": csrf})
    assert small.status_code == 200

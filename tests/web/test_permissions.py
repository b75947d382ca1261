"""The permission table, tested as a full matrix: every route × every role → allowed (2xx/3xx) or 403;
without a session → redirect to the login form (pages) or 401 (API)."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from proxisante.web.security.permissions import PERMISSIONS, PUBLIC, ROLES, allowed
from tests.lib.paths import DOCS

DOCS = DOCS / "web.md"


def _flatten(routes) -> list:
    """The application's routes, included routers opened (FastAPI wraps them in ``_IncludedRouter``)."""
    out = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out.extend(_flatten(inner.routes) if inner is not None else [route])
    return out


def _routes(app) -> list[APIRoute]:
    return [r for r in _flatten(app.routes) if isinstance(r, APIRoute) and r.name not in PUBLIC]


def _call(client: TestClient, route: APIRoute, centre, csrf: str):
    """A well-formed request for the route (path parameters and form bodies filled in)."""
    values = {
        "measure_id": "rosp_diabetes_hba1c",
        "rpps": centre.soignant_rpps,
        "person_id": str(centre.own_patient),
        "username": "inconnu",
        "finess": "inconnu",
    }
    path = route.path_format.format(**{k: v for k, v in values.items() if "{" + k + "}" in route.path_format})
    method = sorted(route.methods)[0]
    headers = {"X-CSRF-Token": csrf}
    if method == "GET":
        return client.get(path, headers=headers, follow_redirects=False)
    bodies = {
        "api_economics": {"json": {"draws": 200}},
        "economics_run": {"data": {"draws": "200"}},
        "territory_whatif": {"data": {"commune": "23096", "etp": "2"}},
        "admin_add_account": {"data": {"username": "nouveau", "password": "x", "roles": ["gestionnaire"]}},
        "admin_disable_account": {"data": {}},
        "logout": {"data": {}},
    }
    return client.post(path, headers=headers, follow_redirects=False, **bodies.get(route.name, {}))


def test_every_route_is_in_the_table_and_every_entry_is_a_route(app) -> None:
    names = {r.name for r in _routes(app)}
    assert names == set(PERMISSIONS), names ^ set(PERMISSIONS)


def test_every_route_depends_on_authorize(app) -> None:
    from proxisante.web.security.auth import authorize

    for route in _routes(app):
        calls = {d.call for d in route.dependant.dependencies}
        assert authorize in calls, route.name


ORDER = [name for name in PERMISSIONS if name != "logout"] + ["logout"]  # logging out ends the session last


@pytest.mark.parametrize("role", [r for r in ROLES if r != "cpts"])  # cpts: tests/web/test_scopes.py
def test_matrix(app, clients, centre, role: str) -> None:
    client, csrf = clients[role]
    by_name = {r.name: r for r in _routes(app)}
    failures = []
    for name in ORDER:
        response = _call(client, by_name[name], centre, csrf)
        expected_allowed = allowed([role], name)
        if expected_allowed and (response.status_code >= 400 and response.status_code != 422):
            failures.append(f"{name}: {response.status_code} {response.text[:200]}")
        if not expected_allowed and response.status_code != 403:
            failures.append(f"{name}: expected 403, got {response.status_code}")
    assert not failures, "\n".join(failures)
    # logged out: the same client is now refused
    assert client.get("/api/me").status_code == 401
    from tests.lib.web import login

    clients[role] = (client, login(client, role))


def test_without_session_pages_redirect_and_api_answers_401(app, centre) -> None:
    client = TestClient(app, base_url="http://127.0.0.1")
    for route in _routes(app):
        response = _call(client, route, centre, "")
        if route.path.startswith("/api"):
            assert response.status_code == 401, route.name
            assert response.json()["detail"] == "Connexion requise."
        else:
            assert response.status_code == 303, route.name
            assert response.headers["location"].startswith("/connexion")


def test_soignant_sees_only_own_patients(clients, centre) -> None:
    client, _ = clients["soignant"]
    other = client.get(f"/indicateurs/rosp_diabetes_hba1c/medecins/{centre.other_rpps}")
    assert other.status_code == 403
    assert client.get(f"/api/gaps?provider={centre.other_rpps}").status_code == 403
    assert client.get(f"/api/prevention/{centre.other_patient}").status_code == 403
    own = client.get("/api/gaps?limit=10000").json()
    assert own["rows"] and {r["mt_rpps"] for r in own["rows"]} == {centre.soignant_rpps}
    coordinator, _ = clients["coordinateur"]
    everyone = coordinator.get("/api/gaps?limit=10000").json()
    assert len({r["mt_rpps"] for r in everyone["rows"]}) > 1 and everyone["total"] > own["total"]


def test_a_former_medecin_traitant_cannot_open_the_current_plan(app, centre) -> None:
    """The plan is checked against the patient's médecin traitant today, whatever period is asked: a
    former médecin traitant does not get it back by choosing a year when they still were."""
    import datetime as dt

    from tests.lib.web import PASSWORD, login

    services = app.state.web.services
    today = services.panel_mt(dt.date.today())
    found = [
        (year, person, rpps)
        for year in (2023, 2024, 2025)
        for person, rpps in services.panel_mt(dt.date(year, 12, 31)).items()
        if today.get(person) != rpps
    ]
    assert found, "the fixture must have a patient who changed médecin traitant"
    year, person, rpps = found[0]
    username = f"ancien-{rpps}"
    if app.state.web.accounts.get(username) is None:
        app.state.web.accounts.add(username, PASSWORD, ["soignant"], rpps=rpps)
    client = TestClient(app, base_url="http://127.0.0.1")
    login(client, username)
    assert client.get(f"/api/prevention/{person}?period={year}").status_code == 403
    assert client.get(f"/actions/patients/{person}?periode={year}").status_code == 403
    mine = next(p for p, r in today.items() if r == rpps) if rpps in today.values() else None
    if mine is not None:  # their current patients' plans, for any period, stay open
        assert client.get(f"/api/prevention/{mine}?period={year}").status_code == 200


@pytest.mark.parametrize("role", ["chercheur", "gestionnaire", "admin"])
def test_outside_the_care_team_small_cells_are_masked(clients, role: str) -> None:
    """Every account without a care role (soignant, coordinateur) is a protected audience."""
    protected = clients[role][0].get("/api/measures/results?by=provider").json()["rows"]
    care_team = clients["coordinateur"][0].get("/api/measures/results?by=provider").json()["rows"]
    assert any(r["suppressed"] for r in protected)
    assert all(r["numerator"] is None and r["rate"] is None for r in protected if r["suppressed"])
    assert "suppressed" not in care_team[0]
    small = [r for r in care_team if 0 < r["numerator"] < 11]
    assert small, "the fixture must have small cells for this test to mean anything"


def test_protected_dashboard_has_no_monthly_panel_trend(clients) -> None:
    """Month-to-month panel sizes would give back the net flows that the API withholds from researchers."""
    assert 'id="chart-trend"' not in clients["chercheur"][0].get("/").text
    assert 'id="chart-trend"' not in clients["gestionnaire"][0].get("/").text
    assert 'id="chart-trend"' in clients["coordinateur"][0].get("/").text
    assert clients["chercheur"][0].get("/api/patientele").json()["flows"] == []


def test_docs_matrix_is_generated_from_the_table() -> None:
    from proxisante.web.security.permissions import markdown_matrix

    assert markdown_matrix() in DOCS.read_text(encoding="utf-8")

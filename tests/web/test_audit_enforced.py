"""Every nominative route writes its audit row, and the application, not each route, makes sure of it."""

from __future__ import annotations

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from proxisante.web.security.audit import AuditLog
from proxisante.web.security.auth import authorize
from proxisante.web.security.permissions import NOMINATIVE_ROUTES
from tests.lib.web import login, make_app


def _urls(centre) -> dict[str, str]:
    """A call of each nominative route that answers with data."""
    return {
        "page_indicator_patients": f"/indicateurs/rosp_diabetes_hba1c/medecins/{centre.soignant_rpps}",
        "page_actions": "/actions",
        "export_actions": "/actions/export.csv",
        "page_prevention_plan": f"/actions/patients/{centre.own_patient}",
        "api_gaps": "/api/gaps?limit=5",
        "api_prevention": f"/api/prevention/{centre.own_patient}",
    }


def test_every_nominative_route_writes_its_audit_row(clients, centre) -> None:
    urls = _urls(centre)
    assert set(urls) == NOMINATIVE_ROUTES  # a new nominative route gets a call here
    client, _ = clients["coordinateur"]
    log = AuditLog.installed(centre.settings)
    for name, url in urls.items():
        before = int(log.entries(1).seq.iloc[0]) if len(log.entries(1)) else 0
        response = client.get(url)
        assert response.status_code == 200, (name, response.text[:300])
        new = log.entries(50)
        new = new[new.seq > before]
        assert list(new.route) == [name] and list(new.username) == ["coordinateur"], (name, new)
    assert log.check().intact


@pytest.fixture
def forgetful(centre):
    """The application with one more nominative route (named like ``api_gaps``) that forgets its audit row."""
    application = make_app(centre.settings)

    @application.get("/api/oubli", name="api_gaps", dependencies=[Depends(authorize)])
    def forgets() -> dict[str, str]:
        return {"family_name": "DUPONT"}

    yield application
    application.state.web.installation.close()


def test_a_nominative_response_without_its_audit_row_is_withheld(forgetful) -> None:
    client = TestClient(forgetful, base_url="http://127.0.0.1")
    login(client, "coordinateur")
    response = client.get("/api/oubli")
    assert response.status_code == 500
    assert "DUPONT" not in response.text and "non journalisée" in response.json()["detail"]

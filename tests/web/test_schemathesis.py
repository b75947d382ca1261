"""The JSON API against its own OpenAPI spec: whatever schemathesis sends, the answer is never a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error


@pytest.fixture(scope="session")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_answers_500(case, clients) -> None:
    client, csrf = clients["coordinateur"]
    cookie = client.cookies.get("proxisante_session")
    response = case.call(headers={"Cookie": f"proxisante_session={cookie}", "X-CSRF-Token": csrf})
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code in (400, 404, 422, 503):
        assert response.json()["detail"], "a refused request says why"


def test_malformed_requests_get_a_clear_4xx(clients) -> None:
    client, csrf = clients["coordinateur"]
    cases = {
        "/api/measures/results?period=2025-T9": "période",
        "/api/measures/results?period=0000": "période",
        "/api/measures/results?by=nobody": "by",
        "/api/measures/nope/series": "indicateur inconnu",
        "/api/measures/rosp_flu_65/series?start=2025-13": "mois",
        "/api/measures/rosp_flu_65/series?start=2020-01&end=2025-12": "36 mois",
        "/api/gaps?provider=abc": "provider",
        "/api/patientele?date=31/12/2025": "date",
        "/api/territory/cpts": "communes ou epci",
    }
    for url, words in cases.items():
        response = client.get(url)
        assert 400 <= response.status_code < 500, (url, response.status_code)
        assert words in response.json()["detail"], (url, response.json())
    bad_body = client.post("/api/economics/simulate", json={"draws": 5}, headers={"X-CSRF-Token": csrf})
    assert bad_body.status_code == 422 and "draws" in bad_body.json()["detail"]
    no_csrf = client.post("/api/economics/simulate", json={})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]

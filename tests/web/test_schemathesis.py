"""The JSON API against its own OpenAPI spec: whatever schemathesis sends, the answer is never a 500."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

MAX_EXAMPLES = 15


def test_api_never_answers_500(app, clients) -> None:
    """Every operation of the spec, with hypothesis-generated parameters and bodies (valid and not)."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    app.state.web.services.warm()
    client, csrf = clients["coordinateur"]
    headers = {"Cookie": f"proxisante_session={client.cookies.get('proxisante_session')}", "X-CSRF-Token": csrf}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)  # fmt: skip
        def check(case) -> None:
            response = case.call(headers=headers, timeout=600)
            case.validate_response(response, checks=[not_a_server_error])
            if 400 <= response.status_code < 500:
                assert response.json()["detail"], f"{case.operation.label}: a refused request says why"

        check()


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

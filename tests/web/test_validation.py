"""A refused request said in French, naming the field (FastAPI's RequestValidationError)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from proxisante.web.validation import french_detail, french_errors


def _app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(RequestValidationError)
    async def refused(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = french_errors(error)
        return JSONResponse({"detail": french_detail(errors), "erreurs": errors}, status_code=422)

    @app.get("/gaps")
    def gaps(
        limit: int = 50,
        start: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")] = "2025-01",
        date: dt.date | None = None,
    ) -> dict[str, int]:
        return {"limit": limit}

    return app


def test_a_wrong_integer_and_pattern_are_named_in_french() -> None:
    answer = TestClient(_app()).get("/gaps", params={"limit": "abc", "start": "2020-01-01"})
    assert answer.status_code == 422
    body = answer.json()
    assert body["erreurs"] == [
        {"champ": "paramètre limit", "message": "nombre entier attendu"},
        {"champ": "paramètre start", "message": "format attendu : un mois AAAA-MM (par exemple 2025-06)"},
    ]
    assert body["detail"].startswith("Requête invalide : paramètre limit : nombre entier attendu ; ")


def test_a_french_date_is_refused_with_the_expected_format() -> None:
    answer = TestClient(_app()).get("/gaps", params={"date": "31/12/2025"})
    assert answer.json()["detail"] == "Requête invalide : paramètre date : date attendue au format AAAA-MM-JJ"


def test_the_application_names_the_field_in_french(clients) -> None:
    client, _ = clients["coordinateur"]
    answer = client.get("/api/gaps", params={"limit": "abc"})
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Requête invalide : paramètre limit : nombre entier attendu"
    page = client.get("/patientele", params={"date": "31/12/2025"})
    assert "paramètre date : date attendue au format AAAA-MM-JJ" in page.text

"""A request FastAPI refused (a parameter of the wrong type, a missing field), said in French naming the
field: pydantic's own messages are English, and docs/web.md promises "a 4xx JSON in French naming the
field". ``web/app.py``'s handler of ``RequestValidationError`` builds its page and JSON from these."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError

from proxisante.messages import french_validation_errors


def french_errors(error: RequestValidationError) -> list[dict[str, str]]:
    """Each refused value as ``{"champ": "paramètre limit", "message": "nombre entier attendu"}``."""
    return [{"champ": where, "message": what} for where, what in french_validation_errors(error.errors())]


def french_detail(errors: list[dict[str, str]]) -> str:
    """The errors as one French sentence: ``Requête invalide : paramètre limit : nombre entier attendu``."""
    return "Requête invalide : " + " ; ".join(
        f"{e['champ']} : {e['message']}" if e["champ"] else e["message"] for e in errors
    )

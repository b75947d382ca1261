"""Structures join and leave the network from the administration page (issue 15): the registry's own checks and
journal, as ``proxisante structures add|leave``; network admin only; CSRF; French refusals beside the form."""

from __future__ import annotations

import datetime as dt
from html import unescape

import pytest
from fastapi.testclient import TestClient

from proxisante.network.structures import StructureRegistry, parse, with_key
from proxisante.web.security.accounts import AccountStore
from tests.lib.web import PASSWORD, login

FINESS = with_key("23000004")


@pytest.fixture()
def registry(centre):
    registry = StructureRegistry.installed(centre.settings)
    registry.path.unlink(missing_ok=True)
    yield registry
    registry.path.unlink(missing_ok=True)


def _form(**changes: str) -> dict[str, str]:
    form = {
        "finess": FINESS,
        "nom": "MSP des Monts de Guéret",
        "type": "MSP",
        "commune": "23096",
        "cpts": "CPTS Creuse Sud",
        "adhesion": "2025-03-01",
    }
    return {**form, **changes}


def test_a_network_admin_adds_a_structure_journaled_as_the_cli_does(clients, registry) -> None:
    client, csrf = clients["admin"]
    response = client.post("/administration/structures", data={**_form(), "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("#structures")
    added = registry.require(FINESS)
    assert (added.name, added.type, added.commune, added.cpts, added.joined) == (
        "MSP des Monts de Guéret",
        "MSP",
        "23096",
        "CPTS Creuse Sud",
        dt.date(2025, 3, 1),
    )
    last = registry.history()[-1]
    assert (last["action"], last["finess"], last["by"]) == ("ajout", FINESS, "web:admin")
    assert registry.verify_journal().intact
    page = client.get(response.headers["location"]).text
    assert f"FINESS {FINESS}) inscrite au réseau le 01/03/2025." in unescape(page)
    audit = client.get("/api/audit?limit=5").json()["rows"]
    assert audit[0]["action"] == "structure inscrite" and FINESS in audit[0]["detail"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"finess": "230000041"}, "champ « finess »"),  # wrong check key
        ({"type": "HOPITAL"}, "type inconnu « HOPITAL »"),
        ({"commune": "2309"}, "n'est pas un code INSEE"),
        ({"nom": "   "}, "le nom ne peut pas être vide"),
        ({"adhesion": "2025-02-30"}, "date invalide « 2025-02-30 »"),
    ],
)
def test_a_wrong_structure_is_refused_beside_the_form(clients, registry, changes, reason) -> None:
    client, csrf = clients["admin"]
    response = client.post("/administration/structures", data={**_form(**changes), "csrf_token": csrf})
    assert response.status_code == 422
    assert 'id="structure-error"' in response.text and reason in unescape(response.text)
    assert f'value="{changes.get("finess", FINESS)}"' in response.text  # what was typed is kept
    assert registry.all() == []


def test_a_finess_already_registered_is_refused(clients, registry) -> None:
    registry.add(parse({**_form(), "adhesion": "2024-01-01"}), by="test")
    client, csrf = clients["admin"]
    response = client.post("/administration/structures", data={**_form(nom="Autre"), "csrf_token": csrf})
    assert response.status_code == 422 and "est déjà dans le registre" in unescape(response.text)
    assert [s.name for s in registry.all()] == ["MSP des Monts de Guéret"]


def test_a_structure_leaves_once_confirmed(clients, registry) -> None:
    registry.add(parse({**_form(), "adhesion": "2024-01-01"}), by="test")
    client, csrf = clients["admin"]
    url = f"/administration/structures/{FINESS}/depart"
    unconfirmed = client.post(url, data={"date": "2025-06-30", "csrf_token": csrf})
    assert (
        unconfirmed.status_code == 422
        and "non confirmé" in unescape(unconfirmed.text)
        and 'id="leave-error"' in unconfirmed.text
    )
    assert registry.require(FINESS).left is None
    done = client.post(url, data={"date": "2025-06-30", "confirmer": "oui", "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert registry.require(FINESS).left == dt.date(2025, 6, 30)
    assert registry.history()[-1]["action"] == "depart" and registry.history()[-1]["by"] == "web:admin"
    again = client.post(url, data={"confirmer": "oui", "csrf_token": csrf})
    assert again.status_code == 422 and "a déjà quitté le réseau le 30/06/2025" in unescape(again.text)
    unknown = client.post("/administration/structures/999999999/depart", data={"confirmer": "oui", "csrf_token": csrf})
    assert unknown.status_code == 422 and "structure inconnue" in unescape(unknown.text)


def test_without_the_csrf_token_nothing_is_written(clients, registry) -> None:
    client, _ = clients["admin"]
    response = client.post("/administration/structures", data=_form())
    assert response.status_code == 403 and "Jeton CSRF" in response.text
    assert registry.all() == []


@pytest.mark.parametrize("role", ["soignant", "coordinateur", "gestionnaire", "chercheur", "reseau"])
def test_other_roles_are_refused(clients, registry, role: str) -> None:
    client, csrf = clients[role]
    response = client.post("/administration/structures", data={**_form(), "csrf_token": csrf})
    assert response.status_code == 403
    assert registry.all() == []


def test_a_structure_admin_cannot_add_or_leave(app, registry) -> None:
    """The registry is the network's: an admin of a structure is refused both forms, in French."""
    registry.add(parse({**_form(), "adhesion": "2024-01-01"}), by="test")
    store = AccountStore(app.state.web.settings.accounts)
    if store.get("admin-msp") is None:
        store.add("admin-msp", PASSWORD, ["admin"], structure=FINESS, registry_has_structures=True)
    client = TestClient(app, base_url="http://127.0.0.1")
    csrf = login(client, "admin-msp")
    page = client.get("/administration").text
    assert 'id="structure-form"' not in page and "gérés par l'administrateur du réseau" in unescape(page)
    other = {**_form(finess=with_key("23000005")), "csrf_token": csrf}
    refused = client.post("/administration/structures", data=other)
    assert refused.status_code == 403 and "administrateur du réseau" in unescape(refused.text)
    leave = client.post(f"/administration/structures/{FINESS}/depart", data={"confirmer": "oui", "csrf_token": csrf})
    assert leave.status_code == 403
    assert [s.finess for s in registry.all()] == [FINESS] and registry.require(FINESS).left is None

"""The administration page lists the network's structures (« Structures du réseau ») for the admin role only;
an unreadable registry is said there in French instead of failing the page."""

from __future__ import annotations

import datetime as dt

import pytest

from proxisante.network.structures import StructureRegistry, parse, with_key


@pytest.fixture()
def registry(centre):
    registry = StructureRegistry.installed(centre.settings)
    yield registry
    registry.path.unlink(missing_ok=True)


def test_the_admin_sees_the_structures(clients, registry: StructureRegistry) -> None:
    finess = with_key("23000001")
    entry = {"finess": finess, "nom": "Centre de santé de Guéret", "type": "CDS", "adhesion": "2024-01-01"}
    registry.add(parse({**entry, "commune": "23096", "cpts": "CPTS Creuse Sud"}), by="test")
    registry.leave(finess, dt.date(2025, 6, 1), by="test")
    client, _ = clients["admin"]
    page = client.get("/administration")
    assert page.status_code == 200
    text = page.text
    assert '<h2 id="structures">Structures du réseau</h2>' in text and 'id="structures-table"' in text
    for value in ("Centre de santé de Guéret", finess, "23096", "CPTS Creuse Sud", "01/01/2024", "01/06/2025"):
        assert value in text, value
    assert 'title="Centre de santé">CDS</abbr>' in text


def test_an_unreadable_registry_is_said_in_french(clients, registry: StructureRegistry) -> None:
    registry.path.parent.mkdir(parents=True, exist_ok=True)
    registry.path.write_text("structures:\n  - finess: '123'\n    nom: X\n    type: CDS\n    adhesion: 2024-01-01\n")
    client, _ = clients["admin"]
    page = client.get("/administration")
    assert page.status_code == 200
    assert "Registre des structures illisible" in page.text and "champ « finess »" in page.text


@pytest.mark.parametrize("role", ["soignant", "coordinateur", "gestionnaire", "chercheur"])
def test_other_roles_do_not_see_the_administration(clients, role: str) -> None:
    client, _ = clients[role]
    assert client.get("/administration", follow_redirects=False).status_code == 403

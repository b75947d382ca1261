"""Département and communes asked on the web (issue 21 item 9): never another département instead, French
404/422 naming what was asked, ``2a`` read as 2A, Corsica's 20 with its hint, no CPTS of 0 communes."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_territory_page_departements(clients: dict[str, tuple[TestClient, str]]) -> None:
    client, _ = clients["gestionnaire"]
    unknown = client.get("/territoire?departement=99")
    assert unknown.status_code == 404
    assert "aucune commune du référentiel pour le département 99" in unknown.text and "Ain" not in unknown.text
    old = client.get("/territoire?departement=20")
    assert old.status_code == 422 and "utilisez 2A (Corse-du-Sud) ou 2B (Haute-Corse)" in old.text
    creuse = client.get("/territoire?departement=23")
    assert creuse.status_code == 200 and '<option value="23" selected>' in creuse.text
    default = client.get("/territoire")
    assert default.status_code == 200 and " selected>" in default.text


def test_territory_api_departements_and_cpts(clients: dict[str, tuple[TestClient, str]]) -> None:
    client, _ = clients["gestionnaire"]
    apl = client.get("/api/territory/apl?departement=99")
    assert apl.status_code == 404 and "département 99" in apl.json()["detail"]
    assert client.get("/api/territory/apl?departement=87&limit=1").json()["communes"] > 0
    assert client.get("/api/territory/siting?departement=2b").status_code == 404  # read as 2B: not in the fixture
    assert "2B" in client.get("/api/territory/siting?departement=2b").json()["detail"]
    cpts = client.get("/api/territory/cpts?communes=99999")
    assert cpts.status_code == 404 and "aucune commune connue du référentiel parmi 99999" in cpts.json()["detail"]
    some = client.get("/api/territory/cpts?communes=23096,99999").json()
    assert some["communes"] == 1 and some["unknown_codes"] == ["99999"]

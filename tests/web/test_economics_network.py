"""The structure's costs on a network of three structures (issue 21 item 5): kept per structure, each account
keeps those of its own scope only; a network account reads a structure's costs with ``?structure=`` but cannot
write them; another structure still sees the example."""

from __future__ import annotations

import re
import shutil

import pytest
from fastapi.testclient import TestClient

from proxisante.economics.costs import costs_csv, load_costs, stored_path
from proxisante.settings import Settings
from proxisante.web.security.accounts import AccountStore
from tests.lib.network import LoadedNetwork
from tests.lib.web import PASSWORD, login, make_app

HTMX = {"HX-Request": "true"}
SMALL = {"draws": "200", "seed": "2026", "tornado": "acte", "years": ""}


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(scope="module")
def net(network_template: LoadedNetwork, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("economics-network") / "home"
    shutil.copytree(network_template.home, home)
    settings = Settings(home=home, secure_cookies=False)
    a, b, _ = network_template.finess
    store = AccountStore(settings.accounts)
    for name, structure in (("a-gestion", a), ("b-gestion", b), ("reseau-gestion", None)):
        store.add(name, PASSWORD, ["gestionnaire"], structure=structure, registry_has_structures=True)
    application = make_app(settings)
    clients = {}
    for name in ("a-gestion", "b-gestion", "reseau-gestion"):
        client = TestClient(application, base_url="http://127.0.0.1")
        clients[name] = (client, login(client, name))
    yield settings, a, b, clients
    application.state.web.installation.close()


def test_costs_are_kept_per_structure_and_written_from_its_own_accounts(net) -> None:
    settings, a, b, clients = net
    client, csrf = clients["a-gestion"]
    files = {"fichier": ("budget-a.csv", costs_csv(load_costs()).encode(), "text/csv")}
    sent = client.post("/economie/charges", data={"action": "fichier", **SMALL}, files=files,
                       headers={"X-CSRF-Token": csrf, **HTMX})  # fmt: skip
    assert sent.status_code == 200 and "Charges utilisées : budget-a" in _text(sent.text)
    assert stored_path(settings.home_dir, a).exists() and not stored_path(settings.home_dir, b).exists()
    assert not stored_path(settings.home_dir, "reseau").exists()

    other, _ = clients["b-gestion"]
    assert "Charges : exemple" in _text(other.get("/economie").text)  # B keeps the example
    assert other.get("/economie", params={"structure": a}).status_code == 403

    network, network_csrf = clients["reseau-gestion"]
    assert "Charges utilisées : budget-a" in _text(network.get("/economie", params={"structure": a}).text)
    assert "Charges : exemple" in _text(network.get("/economie").text)  # the network's own: none given
    files = {"fichier": ("budget-reseau.csv", costs_csv(load_costs()).encode(), "text/csv")}
    refused = network.post("/economie/charges", params={"structure": a}, data={"action": "fichier", **SMALL},
                           files=files, headers={"X-CSRF-Token": network_csrf, **HTMX})  # fmt: skip
    error = re.search(r'id="fichier-erreur" class="error" role="alert">([^<]+)<', refused.text)
    assert error is not None and "s&#39;enregistrent depuis un compte de cette structure" in error.group(1)
    assert load_costs(stored_path(settings.home_dir, a)).label == "budget-a"  # unchanged

"""The personas in a real browser (Debian's chromium via Playwright, as ``test_browser.py``): a soignant's home is
his patients and leads to his work list; a researcher sees the doctors under pseudonyms; an admin adds a structure
(a refusal said beside the form) and records its departure; a blocked account gets a login form on the 429 page,
from which another account signs in, and the admin unlocks it. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from proxisante import formats
from proxisante.definitions import ParameterFile
from proxisante.network.structures import StructureRegistry, with_key
from proxisante.web import worklist_view
from proxisante.web.security.accounts import AccountStore
from proxisante.web.security.pseudonyms import LABEL
from tests.lib.web import PASSWORD
from tests.web.test_browser import _login, _shot, browser, page, pytestmark, server  # noqa: F401 (fixtures)

BLOCKED = "bloque-navigateur"
SECURITY = ParameterFile("proxisante.web.security", "security.yaml")


def test_the_soignant_home_leads_to_his_work_list(page, app, centre) -> None:  # noqa: F811
    _login(page, "soignant", PASSWORD)
    assert page.locator("#own-title").inner_text() == "Mes patients"
    svc = app.state.web.services
    work = worklist_view.patients(svc, worklist_view.default_period(svc), centre.soignant_rpps, False)
    due = work[work.n_actions > 0]
    page.wait_for_selector("#kpi-own-actions", timeout=120_000)  # a fragment, computed once the page is shown
    assert page.locator("#kpi-own-actions").inner_text() == formats.number(int(due.n_actions.sum()))
    assert page.locator("#own-rates tbody tr").count() >= 10
    _shot(page, "soignant-accueil")
    page.locator("#own-worklist").click()
    page.wait_for_load_state()
    assert f"medecin={centre.soignant_rpps}" in page.url
    assert page.locator("#actions-total").inner_text() == formats.number(len(work))


def test_the_researcher_sees_pseudonyms(page, app, centre) -> None:  # noqa: F811
    _login(page, "chercheur", PASSWORD)
    year = app.state.web.services.default_year() - 1
    page.goto(f"/indicateurs/rosp_diabetes_hba1c?periode={year}")
    table = page.locator("#by-provider").inner_text()
    assert re.search(rf"{LABEL} [0-9A-F]{{6}}", table)
    assert centre.soignant_rpps not in page.content()
    _shot(page, "chercheur-indicateur-pseudonymes")


@pytest.fixture()
def registry(centre):
    registry = StructureRegistry.installed(centre.settings)
    registry.path.unlink(missing_ok=True)
    yield registry
    registry.path.unlink(missing_ok=True)


def test_the_admin_adds_a_structure_and_records_its_departure(page, registry) -> None:  # noqa: F811
    finess = with_key("23000007")
    _login(page, "admin", PASSWORD)
    page.goto("/administration#structures")
    page.get_by_label("FINESS juridique").fill(finess[:8] + str((int(finess[8]) + 1) % 10))  # a wrong check key
    page.get_by_label("Nom", exact=True).fill("Maison de santé de Bourganeuf")
    page.get_by_label("Type").select_option("MSP")
    page.get_by_label("Commune (code INSEE)").fill("23030")
    page.get_by_label("CPTS dont elle est membre").fill("CPTS Creuse Sud")
    page.get_by_role("button", name="Inscrire la structure").click()
    error = page.locator("#structure-error")
    assert "champ « finess »" in error.inner_text()
    assert page.get_by_label("Nom", exact=True).input_value() == "Maison de santé de Bourganeuf"  # kept
    _shot(page, "administration-structure-refusee")
    page.get_by_label("FINESS juridique").fill(finess)
    page.get_by_role("button", name="Inscrire la structure").click()
    assert "inscrite au réseau" in page.locator("p.ok").inner_text()
    assert finess in page.locator("#structures-table").inner_text()
    _shot(page, "administration-structures")
    row = page.locator("#structures-table tbody tr", has_text=finess)
    row.get_by_label("je confirme le départ").check()
    row.get_by_role("button", name=f"Départ de {finess}").click()
    assert "départ du réseau le" in page.locator("p.ok").inner_text()
    assert registry.require(finess).left is not None


def test_a_blocked_account_the_429_form_and_the_unlock(page, app) -> None:  # noqa: F811
    store = AccountStore(app.state.web.settings.accounts)
    if store.get(BLOCKED) is None:
        store.add(BLOCKED, PASSWORD, ["chercheur"])
    page.goto("/connexion")
    for _ in range(int(SECURITY.value("login_failures_per_account")["failures"]) + 1):
        page.get_by_label("Identifiant").fill(BLOCKED)
        page.get_by_label("Mot de passe").fill("mauvais-mot-de-passe")
        page.get_by_role("button", name="Se connecter").click()
    assert "Trop d'échecs de connexion" in page.locator("p.error").inner_text()
    _shot(page, "trop-de-tentatives")
    page.get_by_label("Identifiant").fill("admin")  # another account, from the 429 page's own form
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    assert "/connexion" not in page.url
    page.goto("/administration")
    row = page.locator("#accounts tbody tr", has_text=BLOCKED)
    assert "bloqué" in row.inner_text()
    _shot(page, "administration-compte-bloque")
    row.get_by_role("button", name=f"Débloquer {BLOCKED}").click()
    assert f"Compte {BLOCKED} débloqué." in page.locator("p.ok").inner_text()
    assert BLOCKED not in app.state.web.limiter.blocked_accounts()

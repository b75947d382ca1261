"""The economics page in a real browser (issue 21, item 5), screenshots in test-artifacts/screenshots/: the
example costs labelled; "2025-2027" in the years field draws one chart per year; a wrong years field shows its
French message beside the field and removes the previous result (htmx swaps the block back, where a 422
used to be swallowed); the structure's costs uploaded as a CSV are used, a wrong file is refused beside the
file field, and the example comes back when they are removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxisante.economics.costs import costs_csv, load_costs, stored_path
from tests.web import test_browser as base
from tests.web.test_browser import PASSWORD, USER, _login, _shot, pytestmark  # noqa: F401  (its skip mark too)


@pytest.fixture(scope="module")
def server(app, centre):
    yield from base.server.__wrapped__(app, centre)


@pytest.fixture(scope="module")
def browser():
    yield from base.browser.__wrapped__()


@pytest.fixture
def tab(browser, server):
    yield from base.page.__wrapped__(browser, server)


def _drawn(tab, year: int) -> None:
    tab.wait_for_selector(f'figure.chart[data-figure-id="chart-economics-{year}"] .main-svg', timeout=120_000)


def test_economics_page_years_errors_and_the_structure_s_costs(tab, centre, tmp_path: Path) -> None:
    kept = stored_path(centre.settings.home_dir, "reseau")
    try:
        _login(tab, USER, PASSWORD)
        tab.goto("/economie")
        first = tab.locator("#modeles-2025, table.economics").first.get_attribute("id")
        year = int(str(first).removeprefix("modeles-"))
        _drawn(tab, year)
        assert "Charges : exemple" in tab.locator("#charges-utilisees").inner_text()
        assert tab.locator("#resultat-exemple").count() == 1
        _shot(tab, "economie-charges-exemple")

        tab.get_by_label("Années simulées").fill("2025-2027")
        tab.get_by_label("Tirages Monte Carlo").fill("300")
        tab.get_by_role("button", name="Simuler").click()
        for shown in (2025, 2026, 2027):
            _drawn(tab, shown)
        assert tab.locator("figure.chart .main-svg").count() >= 3
        assert tab.locator("#modeles-2027 th", has_text="Écart avec le modèle actuel").count() == 1
        assert "Point mort" in tab.locator("#point-mort").inner_text()
        _shot(tab, "economie-trois-annees")

        tab.get_by_label("Années simulées").fill("2025-20x7")
        tab.get_by_role("button", name="Simuler").click()
        error = tab.locator("#years-erreur")
        error.wait_for(timeout=60_000)
        assert "attendu 2025, 2024-2027 ou 2024,2026" in error.inner_text()
        assert tab.get_by_label("Années simulées").get_attribute("aria-invalid") == "true"
        assert tab.locator("#modeles-2025").count() == 0  # the previous result does not stay under the error
        _shot(tab, "economie-erreur-annees")

        tab.get_by_label("Années simulées").fill("2025")
        tab.get_by_role("button", name="Simuler").click()
        _drawn(tab, 2025)
        bad = tmp_path / "charges.csv"
        bad.write_text("item;amount\nloyer;5\n", encoding="utf-8")
        tab.locator("#fichier").set_input_files(str(bad))
        tab.get_by_role("button", name="Envoyer le fichier").click()
        refused = tab.locator("#fichier-erreur")
        refused.wait_for(timeout=60_000)
        assert "champ item : « loyer »" in refused.inner_text() and not kept.exists()
        _shot(tab, "economie-erreur-charges")

        good = tmp_path / "budget-2025.csv"
        good.write_text(costs_csv(load_costs()), encoding="utf-8")
        tab.locator("#fichier").set_input_files(str(good))
        tab.get_by_role("button", name="Envoyer le fichier").click()
        tab.locator("#charges-message").wait_for(timeout=120_000)
        assert "Charges utilisées : budget-2025" in tab.locator("#charges-utilisees").inner_text()
        assert tab.locator("#resultat-exemple").count() == 0 and kept.exists()
        _drawn(tab, 2025)
        _shot(tab, "economie-charges-structure")

        tab.get_by_role("button", name="Retirer ces charges").click()
        tab.wait_for_function(
            "document.querySelector('#charges-utilisees').textContent.includes('Charges : exemple')", timeout=120_000
        )
        assert "reprend les charges d'EXEMPLE" in tab.locator("#charges-message").inner_text() and not kept.exists()
    finally:
        kept.unlink(missing_ok=True)

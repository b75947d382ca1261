"""Periods and wrong inputs in a real browser (issue 21 items 2 and 9): the period typed in the indicators'
form as on the command line, a quarter read as its 12 months, a period after the last data said and not
computed, a département that no commune has refused in French. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

from tests.web.test_browser import PASSWORD, USER, _login, _shot, browser, page, pytestmark, server

__all__ = ["browser", "page", "pytestmark", "server"]  # the browser module's fixtures and skip mark, reused


def _ask(page, period: str) -> str:
    page.get_by_label("Période").fill(period)
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_load_state()
    return page.inner_text("main")


def test_periods_typed_in_the_indicators_form(page) -> None:
    _login(page, USER, PASSWORD)
    page.goto("/indicateurs")
    quarter = _ask(page, "2025t3")
    assert "2025-T3 : 12 mois jusqu'au 30/09/2025" in quarter and "Diabète" in quarter
    _shot(page, "indicateurs-trimestre")
    rolling = _ask(page, "12M:30/09/2025")
    assert "12M:2025-09-30 : 12 mois jusqu'au 30/09/2025" in rolling
    future = _ask(page, "2030")
    assert "pas de données sur cette période (données jusqu'au" in future
    assert "sous l'objectif" not in future and "Diabète" not in future
    _shot(page, "indicateurs-sans-donnees")


def test_unknown_departement_in_the_browser(page) -> None:
    _login(page, USER, PASSWORD)
    response = page.goto("/territoire?departement=99")
    assert response is not None and response.status == 404
    text = page.inner_text("body")
    assert "aucune commune du référentiel pour le département 99" in text and "Ain" not in text
    _shot(page, "territoire-departement-inconnu")

"""The work list in a real browser (issue 21 item 1), screenshots in test-artifacts/screenshots/: the first
page with the date of the last data, the next page (no patient twice), a filter by action, a search by name,
the printable version (no navigation, filters or pager; a title with the doctor and the date, in the print
media too), the printable prevention plan, and the 404 page of a patient who does not exist."""

from __future__ import annotations

import re

import pytest

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


def _patients(tab) -> list[str]:
    hrefs = tab.locator("#worklist tbody tr td:first-child a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    return [re.search(r"/patients/(-?\d+)", h)[1] for h in hrefs]


def _count(tab) -> int:
    return int(re.sub(r"\D", "", tab.locator("#actions-total").inner_text()))


def test_work_list_paging_filter_search_print(tab) -> None:
    _login(tab, USER, PASSWORD)
    tab.goto("/actions")
    assert re.match(r"Données jusqu'au \d{2}/\d{2}/\d{4}", tab.locator("#donnees-jusqu-au").inner_text())
    first = _patients(tab)
    assert len(first) == 50 == len(set(first))
    assert "nan" not in tab.locator("#worklist").inner_text().split()
    _shot(tab, "liste-de-travail")

    tab.locator("#page-suivante").click()
    assert "Page 2 sur" in tab.locator("#page-courante").inner_text()
    second = _patients(tab)
    assert second and not set(first) & set(second)
    _shot(tab, "liste-de-travail-page-2")

    everyone = _count(tab)
    tab.goto("/actions")
    tab.get_by_label("Action").select_option("rosp_diabetes_hba1c")
    tab.get_by_role("button", name="Filtrer").click()
    tab.wait_for_load_state()
    assert "indicateur=rosp_diabetes_hba1c" in tab.url
    filtered = _count(tab)
    assert 0 < filtered < everyone
    actions = tab.locator("#worklist tbody tr td ul.items").all_inner_texts()
    assert actions and all("HbA1c" in a for a in actions)
    _shot(tab, "liste-de-travail-filtre-hba1c")

    name = tab.locator("#worklist tbody tr td:first-child a").first.inner_text().split()[0]
    tab.get_by_label("Nom").fill(name.lower())
    tab.get_by_role("button", name="Filtrer").click()
    tab.wait_for_load_state()
    assert all(
        name.lower() in row.lower() for row in tab.locator("#worklist tbody tr td:first-child").all_inner_texts()
    )
    _shot(tab, "liste-de-travail-recherche")

    tab.goto("/actions?imprimer=1")
    assert tab.locator("header.top").is_hidden() and tab.locator("form.filters").is_hidden()
    title = tab.locator("#titre-impression")
    assert title.is_visible() and "imprimée le" in title.inner_text()
    assert len(_patients(tab)) == everyone  # every patient of the filters, not one page
    _shot(tab, "liste-de-travail-imprimable")
    tab.goto("/actions")
    tab.emulate_media(media="print")
    assert tab.locator("header.top").is_hidden() and tab.locator("#titre-impression").is_visible()
    tab.emulate_media(media="screen")
    assert tab.locator("header.top").is_visible() and tab.locator("#titre-impression").is_hidden()

    tab.locator("#worklist tbody tr td:first-child a").first.click()
    assert tab.locator("#actions-patient li").count() >= 1
    tab.emulate_media(media="print")
    _shot(tab, "plan-de-prevention-imprime")
    assert tab.locator("header.top").is_hidden()
    tab.emulate_media(media="screen")

    response = tab.goto("/actions/patients/123")
    assert response.status == 404 and "patient inconnu" in tab.content()
    _shot(tab, "patient-inconnu")

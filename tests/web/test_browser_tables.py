"""Sorting and exports of the table pages in a real browser (issue 21, item 7), screenshots in
test-artifacts/screenshots/: a click on a header sorts the rows the French way ("12 345", "61,2 %"), a second
click reverses them; the export link downloads the table as a French CSV; without JavaScript nothing breaks
(the headers are plain text again)."""

from __future__ import annotations

import csv
import io

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


def _numbers(table, column: int) -> list[float | None]:
    texts = table.locator(f"tbody tr td:nth-child({column})").all_inner_texts()
    out: list[float | None] = []
    for text in texts:
        plain = text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace("%", "")
        plain = plain.replace("pour100", "").replace(",", ".")
        try:
            out.append(float(plain))
        except ValueError:
            out.append(None)
    return out


def test_indicators_sort_by_rate_and_export(tab) -> None:
    page = tab
    _login(page, USER, PASSWORD)
    page.goto("/indicateurs?periode=2025")
    page.locator("table.measures").first.wait_for()
    header = page.locator("table.measures").first.locator("thead th").nth(4)
    assert header.inner_text().startswith("Taux")
    header.locator("button.sort").click()
    assert header.get_attribute("aria-sort") == "ascending"
    rates = [r for r in _numbers(page.locator("table.measures").first, 5) if r is not None]
    assert rates == sorted(rates) and len(rates) >= 2
    _shot(page, "indicateurs-tri-croissant")
    header.locator("button.sort").click()
    assert header.get_attribute("aria-sort") == "descending"
    rates = [r for r in _numbers(page.locator("table.measures").first, 5) if r is not None]
    assert rates == sorted(rates, reverse=True)
    _shot(page, "indicateurs-tri-decroissant")
    with page.expect_download() as info:
        page.get_by_role("link", name="Exporter en CSV").first.click()
    download = info.value
    assert download.suggested_filename == "indicateurs-2025-indicateurs.csv"
    text = download.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert rows and "dénominateur" in rows[0] and "taux de la période précédente" in rows[0]


def test_patientele_flows_sort_by_month(tab) -> None:
    page = tab
    _login(page, USER, PASSWORD)
    page.goto("/patientele?date=2025-12-31")
    flows = page.locator("#flows")
    flows.wait_for()
    month = flows.locator("thead th").first
    month.locator("button.sort").click()  # ascending: already in order
    month.locator("button.sort").click()  # descending: December first, the total row stays last
    first = flows.locator("tbody tr").first.locator("td").first.inner_text()
    last = flows.locator("tbody tr").last.locator("td").first.inner_text()
    assert first == "déc. 2025" and last not in ("janv. 2025", "déc. 2025")
    page.locator("#access").scroll_into_view_if_needed()
    _shot(page, "patientele-flux-tri-acces-aux-soins")


def test_tables_without_javascript(browser, server) -> None:
    context = browser.new_context(base_url=server, java_script_enabled=False, locale="fr-FR")
    try:
        tab = context.new_page()
        _login(tab, USER, PASSWORD)
        tab.goto("/indicateurs?periode=2025")
        assert tab.locator("table.measures button.sort").count() == 0
        assert tab.locator("table.measures").first.locator("thead th").nth(4).inner_text() == "Taux"
        assert tab.get_by_role("link", name="Exporter en CSV").count() >= 1
    finally:
        context.close()

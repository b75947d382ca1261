"""The pages in a real browser (Debian's chromium, headless, driven by Playwright) over a live server.

Logs in, opens every page (screenshots in test-artifacts/screenshots/), checks that the figures shown
equal the engines' own, follows a drill-down to the patients of a médecin traitant, exports the call
list and reads the CSV, logs out; a gestionnaire cannot reach a nominative page. Nothing is loaded
from outside 127.0.0.1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from proxisante import formats
from proxisante.web.security.accounts import AccountStore
from tests.lib.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
SHOTS = ROOT / "test-artifacts" / "screenshots"
USER, PASSWORD = "navigateur", "Navigateur-2026!"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and shutil.which("chromium") is None,
    reason="chromium absent (/usr/bin/chromium): apt-get install chromium — .ci/run installs it in CI",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(app, centre):
    store = AccountStore(centre.settings.accounts)
    if store.get(USER) is None:
        # Separation of duties: no account both administers and reads names (admin is the conftest's own).
        store.add(USER, PASSWORD, ["coordinateur", "gestionnaire"], display_name="Navigateur")
    app.state.web.services.warm(trends=False)  # as `proxisante serve` does in the background (trends: on demand)
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started:
        assert time.time() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, locale="fr-FR", viewport={"width": 1366, "height": 900},
                                  accept_downloads=True)  # fmt: skip
    outside: list[str] = []

    def only_loopback(route) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    context.set_default_timeout(120_000)
    context.set_default_navigation_timeout(180_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not outside, f"requests outside the server: {outside}"
    assert not errors, f"JavaScript errors: {errors}"


def _login(page, username: str, password: str) -> None:
    page.goto("/")
    assert "/connexion" in page.url
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    assert "/connexion" not in page.url


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _engines(app):
    """The engines' own figures, computed directly (not through the application's cache)."""
    from proxisante.measures.gaps import care_gaps
    from proxisante.measures.periods import parse_period
    from proxisante.measures.results import run
    from proxisante.population.patientele import Patientele

    web = app.state.web
    year = web.services.default_year()
    period = parse_period(str(year))
    with web.services.reading():  # a connection of the server's readers, not the one a page may be using
        warehouse = web.services.installation.warehouse
        with Patientele(warehouse, dt.date(year, 12, 31)) as p:
            panel = int(p.composition(by_provider=False).panel.iloc[0])
        results = run(warehouse, period).table
        gaps = care_gaps(warehouse, period)
    return panel, results, gaps


def _work_list(app):
    """The engine's gaps of the work list: actionable indicators, 12 months to the last data."""
    from proxisante.measures.gaps import actionable_measures, care_gaps
    from proxisante.population import worklist

    services = app.state.web.services

    def compute():
        period = worklist.default_period(services.warehouse)
        return care_gaps(services.warehouse, period, actionable_measures())

    return services.call(compute)


def test_pages_figures_drill_down_export_logout(page, app) -> None:
    panel, results, gaps = _engines(app)
    _login(page, USER, PASSWORD)
    assert page.locator("#kpi-panel").inner_text() == formats.number(panel)
    page.wait_for_selector("#chart-trend + script, figure.chart .main-svg", timeout=30_000)
    _shot(page, "tableau-de-bord")

    page.get_by_role("link", name="Patientèle").click()
    page.wait_for_selector("figure.chart .main-svg", timeout=30_000)
    _shot(page, "patientele")

    page.get_by_role("link", name="Indicateurs").click()
    totals = results[(results.stratifier == "") & results.reportable & (results.numerator < results.eligible)]
    from proxisante.measures.definition import library

    proportions = totals.measure_id.map(lambda m: library()[m].scoring != "events_per_100")
    row = totals[proportions & totals.measure_id.str.startswith("rosp_")].sort_values("eligible").iloc[-1]
    measure = row.measure_id
    shown = page.locator(f'tr[data-measure="{measure}"] td.rate').inner_text()
    assert shown == formats.percent(row.rate)
    _shot(page, "indicateurs")

    page.locator(f'tr[data-measure="{measure}"] a').first.click()
    assert page.locator("#measure-rate").inner_text() == formats.percent(row.rate)
    page.wait_for_selector("figure.chart .main-svg", timeout=60_000)
    _shot(page, "indicateur")
    drill = page.locator("a.drill").first
    href = drill.get_attribute("href")
    rpps = href.split("/medecins/")[1].split("?")[0]
    drill.click()
    expected = gaps[(gaps.measure_id == measure) & (gaps.mt_rpps == rpps)]
    assert page.locator("#gap-total").inner_text() == formats.number(len(expected))
    assert page.locator("#gaps tbody tr").count() == max(len(expected), 1)
    _shot(page, "indicateur-patients")

    page.get_by_role("link", name="Actions", exact=True).click()
    work = _work_list(app)  # one row per patient: the persons with a gap of an actionable indicator
    assert page.locator("#actions-total").inner_text() == formats.number(work.person_id.nunique())
    _shot(page, "actions")
    with page.expect_download() as download:
        page.locator("#export").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(rows) == work.person_id.nunique()
    assert {r["pseudonyme"] for r in rows} == {str(p) for p in work.person_id}
    assert all(r["nom"] and r["actions"] for r in rows)
    audit = app.state.web.audit.entries(20)
    assert "export nominatif" in set(audit.action) and app.state.web.audit.verify() is None

    page.locator("#worklist tbody tr a").first.click()
    assert page.locator("#plan tbody tr").count() >= 1
    _shot(page, "plan-de-prevention")

    page.get_by_role("link", name="Modèle économique").click()
    page.wait_for_selector("figure.chart .main-svg", timeout=120_000)
    page.wait_for_load_state("load")
    _shot(page, "modele-economique")
    page.get_by_label("Graine").fill("7")
    page.get_by_role("button", name="Simuler").click()
    page.wait_for_function("document.querySelector('#scenario').textContent.includes('graine 7')", timeout=120_000)

    page.get_by_role("link", name="Territoire").click()
    page.wait_for_load_state("load")  # htmx is loaded (deferred) before the form is used
    assert page.locator("#apl-communes").count() == 1
    page.get_by_role("button", name="Simuler").click()
    page.wait_for_selector("#whatif-result", timeout=60_000)
    _shot(page, "territoire")

    page.get_by_role("link", name="Qualité des données").click()
    assert page.locator("#batches tbody tr").count() >= 1
    _shot(page, "qualite-des-donnees")

    page.get_by_role("button", name="Se déconnecter").click()
    from tests.lib.web import PASSWORD as ROLE_PASSWORD

    _login(page, "admin", ROLE_PASSWORD)
    page.get_by_role("link", name="Administration").click()
    assert page.locator("#audit tbody tr").count() >= 3
    assert "intacte" in page.locator("#audit-chain").inner_text()
    _shot(page, "administration")

    page.get_by_role("button", name="Se déconnecter").click()
    assert "/connexion" in page.url
    page.goto("/actions")
    assert "/connexion" in page.url


def test_gestionnaire_cannot_reach_a_nominative_page(page) -> None:
    from tests.lib.web import PASSWORD as ROLE_PASSWORD

    _login(page, "gestionnaire", ROLE_PASSWORD)
    assert page.get_by_role("link", name="Actions", exact=True).count() == 0
    response = page.goto("/actions")
    assert response.status == 403
    assert "Accès refusé" in page.content()
    _shot(page, "gestionnaire-acces-refuse")
    assert page.goto("/actions/export.csv").status == 403


def test_a_page_being_computed_shows_a_sign_of_life(page) -> None:
    """A page whose figures take seconds shows « Calcul en cours » until it arrives (static/loading.js).

    The navigation is held in the page itself (a listener after the script's cancels it), so that the
    banner's timing is the script's and not the server's."""
    _login(page, USER, PASSWORD)
    assert page.locator("#chargement").is_hidden()
    shown_after_click = page.evaluate(
        """async () => {
            window.addEventListener("click", (event) => event.preventDefault());  // held: no navigation
            document.querySelector("nav a[href='/patientele']").click();
            const early = !document.getElementById("chargement").hidden;
            await new Promise((done) => setTimeout(done, 1000));
            return [early, !document.getElementById("chargement").hidden];
        }"""
    )
    assert shown_after_click == [False, True]  # not for a fast page; shown once it takes more than 400 ms
    page.screenshot(path=str(SHOTS / "chargement.png"))
    assert "Calcul en cours" in page.locator("#chargement").inner_text()
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow'))")  # the page arrived
    assert page.locator("#chargement").is_hidden()
    # a download link leaves the page as it is: no banner
    shown_for_download = page.evaluate(
        """async () => {
            const link = document.createElement("a");
            link.href = "/actions/export.csv";
            document.body.appendChild(link);
            link.click();
            await new Promise((done) => setTimeout(done, 1000));
            return !document.getElementById("chargement").hidden;
        }"""
    )
    assert shown_for_download is False

"""Each role's home shows what it acts on (issue 21, personas): a soignant his patients (his patientèle, his rate
beside the structure's for each indicator, his work list); a coordinator the structure's; a researcher the
protected aggregates, with every professional under a stable pseudonym (pages and API), never a name or an RPPS."""

from __future__ import annotations

import re
from html import unescape

import pandas as pd
import pytest

from proxisante import formats
from proxisante.disclosure import TOTAL
from proxisante.measures.definition import library
from proxisante.web import worklist_view
from proxisante.web.security.pseudonyms import LABEL, key_of, pseudonym
from proxisante.web.services import period_of

MEASURE = "rosp_diabetes_hba1c"


def _figure(html: str, ident: str) -> str:
    found = re.search(rf'id="{ident}">(?:<a [^>]*>)?([^<]+)<', html)
    assert found, ident
    return found[1]


def _cells(html: str, measure: str) -> dict[str, str]:
    row = re.search(rf'<tr data-measure="{measure}">(.*?)</tr>', html, re.S)
    assert row, measure
    return {
        "own": (re.search(r'class="num own-rate">([^<]+)<', row[1]) or [None, None])[1],
        "whole": re.search(r'class="num whole-rate">([^<]+)<', row[1])[1],  # type: ignore[index]
    }


def test_the_soignant_home_is_his_patients(app, clients, centre) -> None:
    client, _ = clients["soignant"]
    page = client.get("/")
    assert page.status_code == 200
    html = unescape(page.text)
    svc = app.state.web.services
    year = svc.default_year()
    span = period_of(str(year))
    by_provider = svc.patientele(pd.Timestamp(f"{year}-12-31").date(), span)["by_provider"]
    panel = int(by_provider[by_provider.mt_rpps == centre.soignant_rpps].panel.iloc[0])
    assert panel > 0 and _figure(html, "kpi-own-panel") == formats.number(panel)
    work = worklist_view.patients(svc, worklist_view.default_period(svc), centre.soignant_rpps, False)
    due = work[work.n_actions > 0]
    assert len(due) > 0
    assert 'hx-get="/accueil/mes-actions"' in html and f'href="/actions?medecin={centre.soignant_rpps}"' in html
    fragment = client.get("/accueil/mes-actions")  # the work list's figures, asked for once the page is shown
    assert fragment.status_code == 200 and "<html" not in fragment.text
    actions = unescape(fragment.text)
    assert _figure(actions, "kpi-own-actions") == formats.number(int(due.n_actions.sum()))
    assert f"pour {formats.number(len(due))} patients" in actions
    overdue = int((due.urgency == "en retard").sum())
    assert _figure(actions, "kpi-own-overdue") == formats.number(overdue)
    assert f'href="/actions?medecin={centre.soignant_rpps}&amp;echeance=retard"' in fragment.text
    results = svc.results(span, "provider")
    results = results[results.stratifier == ""]
    own = results[(results.provider == centre.soignant_rpps) & results.reportable.astype(bool)]
    whole = results[results.provider == TOTAL].set_index("measure_id")
    compared = [
        r for r in own.itertuples() if whole.loc[r.measure_id].reportable and r.rate != whole.loc[r.measure_id].rate
    ]
    assert compared, "the fixture must give the soignant a reportable rate of his own"
    for row in compared:
        measure = library()[row.measure_id]
        cells = _cells(html, row.measure_id)
        assert cells["own"] == formats.rate(row.rate, measure.scoring)
        assert cells["whole"] == formats.rate(whole.loc[row.measure_id].rate, measure.scoring)
    # the work list linked from the home counts the same patients
    listed = client.get(f"/actions?medecin={centre.soignant_rpps}")
    assert listed.status_code == 200


@pytest.mark.parametrize("role", ["coordinateur", "gestionnaire", "chercheur", "admin"])
def test_other_homes_are_the_structure_s(clients, role: str) -> None:
    client, _ = clients[role]
    html = client.get("/").text
    assert 'id="own"' not in html and 'id="kpi-panel"' in html
    assert ("Vue protégée" in html) == (role != "coordinateur")
    assert client.get("/accueil/mes-actions").status_code == 403


def test_the_researcher_sees_professionals_under_a_stable_pseudonym(app, clients, centre) -> None:
    client, _ = clients["chercheur"]
    svc = app.state.web.services
    names = [n for n in svc.provider_names().values() if n]
    rpps = list(svc.provider_names())
    key = key_of(app.state.web.settings.accounts)
    page = client.get(f"/indicateurs/{MEASURE}?periode={svc.default_year() - 1}")
    assert page.status_code == 200, page.text[:300]
    html = unescape(page.text)
    table = re.search(r'<table id="by-provider">(.*?)</table>', html, re.S)[1]  # type: ignore[index]
    shown = re.findall(rf"{LABEL} [0-9A-F]{{6}}", table)
    assert shown and set(shown) <= {pseudonym(key, r) for r in rpps}
    assert shown == sorted(shown)  # not in the order of the RPPS, which would give each doctor back
    assert not any(r in html for r in rpps) and not any(n in table for n in names)
    again = unescape(client.get(f"/indicateurs/{MEASURE}?periode={svc.default_year() - 1}").text)
    assert re.findall(rf"{LABEL} [0-9A-F]{{6}}", again) == re.findall(rf"{LABEL} [0-9A-F]{{6}}", html)
    api = client.get(f"/api/measures/results?by=provider&period={svc.default_year() - 1}").json()["rows"]
    providers = {r["provider"] for r in api} - {TOTAL}
    assert providers and all(p.startswith(f"{LABEL} ") for p in providers)
    assert set(shown) <= providers
    hba1c = [r["provider"] for r in api if r["measure_id"] == MEASURE and r["stratifier"] == ""]
    assert hba1c[0] == TOTAL and hba1c[1:] == sorted(hba1c[1:])
    assert not any(r in str(api) for r in rpps)


def test_accounts_that_name_professionals_see_the_rpps(app, clients, centre) -> None:
    """A gestionnaire (protected aggregates too) sees the same API answer with the RPPS: the cache keeps apart."""
    svc = app.state.web.services
    year = svc.default_year() - 1
    researcher, _ = clients["chercheur"]
    researcher.get(f"/api/measures/results?by=provider&period={year}")
    manager, _ = clients["gestionnaire"]
    rows = manager.get(f"/api/measures/results?by=provider&period={year}").json()["rows"]
    assert centre.soignant_rpps in {r["provider"] for r in rows}
    coordinator, _ = clients["coordinateur"]
    assert centre.soignant_rpps in coordinator.get(f"/indicateurs/{MEASURE}").text


def test_the_pseudonym_is_keyed() -> None:
    assert pseudonym(b"a" * 32, "10000000001") == pseudonym(b"a" * 32, "10000000001")
    assert pseudonym(b"a" * 32, "10000000001") != pseudonym(b"b" * 32, "10000000001")
    assert pseudonym(b"a" * 32, "10000000001") != pseudonym(b"a" * 32, "10000000002")
    assert re.fullmatch(rf"{LABEL} [0-9A-F]{{6}}", pseudonym(b"a" * 32, "10000000001"))

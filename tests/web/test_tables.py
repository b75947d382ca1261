"""Every table page reads as the command line and the PDF, and exports its tables (issue 21, item 7).

The indicators page names the denominator as the command line does (before exclusions, the exclusions
beside it), compares with the previous period, and exports CSV and XLSX through the page's own route (same
roles, same figures, French headers, rounded numbers); the patientèle page has the access-to-care table and
the arrivals and departures columns, with French months; the quality page exports its quarantine rows."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
from openpyxl import load_workbook

from proxisante import formats
from proxisante.measures.definition import library
from proxisante.measures.periods import parse_period
from tests.web.conftest import Centre


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def _cell(html: str, measure: str, css: str) -> str:
    row = re.search(rf'<tr data-measure="{measure}">(.*?)</tr>', html, re.S)
    assert row, measure
    found = re.search(rf'<td class="num {css}">([^<]*)</td>', row.group(1))
    assert found, (measure, css)
    return found.group(1)


def test_indicators_denominator_before_exclusions_and_previous_period(app, clients) -> None:
    client, _ = clients["coordinateur"]
    html = client.get("/indicateurs?periode=2025").text
    assert "Dénominateur : patients concernés avant exclusions" in html
    results = app.state.web.services.results(parse_period("2025"))
    before = app.state.web.services.results(parse_period("2024"))
    totals = results[results.stratifier == ""].set_index("measure_id")
    excluded = totals[totals.exclusions > 0]
    measure = excluded.index[0] if len(excluded) else totals.index[0]
    assert _cell(html, measure, "denominator") == formats.number(totals.loc[measure, "denominator"])
    assert _cell(html, measure, "exclusions") == formats.number(totals.loc[measure, "exclusions"])
    earlier = before[before.stratifier == ""].set_index("measure_id")
    shown = [m for m in totals.index if totals.loc[m, "reportable"] and earlier.loc[m, "reportable"]]
    m = library()[shown[0]]
    assert _cell(html, m.id, "previous") == formats.rate(earlier.loc[m.id, "rate"], m.scoring)
    expected = formats.delta(totals.loc[m.id, "rate"], earlier.loc[m.id, "rate"], m.scoring)
    assert _cell(html, m.id, "delta") == expected
    assert "Taux 2024" in html


def test_indicators_export_csv_and_xlsx(app, clients) -> None:
    client, _ = clients["coordinateur"]
    rows = _csv(client.get("/indicateurs?periode=2025&format=csv&tableau=indicateurs"))
    results = app.state.web.services.results(parse_period("2025"))
    totals = results[results.stratifier == ""].set_index("measure_id")
    assert {r["code"] for r in rows} == set(totals.index)
    first = rows[0]
    assert list(first)[:3] == ["indicateur", "code", "période"]
    assert "taux de la période précédente" in first and "évolution du taux" in first
    assert int(first["dénominateur"]) == totals.loc[first["code"], "denominator"]
    text = client.get("/indicateurs?periode=2025&format=csv").content.decode("utf-8-sig")
    assert "True" not in text and "e-1" not in text and "e-0" not in text
    workbook = client.get("/indicateurs?periode=2025&format=xlsx")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content)).worksheets[0]
    assert sheet.cell(1, 1).value == "indicateur" and sheet.max_row == len(totals) + 1
    assert client.get("/indicateurs?format=pdf").status_code == 422
    assert client.get("/indicateurs?format=csv&tableau=inconnu").status_code == 404


def test_indicator_export_names_doctors_for_the_care_team_only(app, clients, centre: Centre) -> None:
    measure = "rosp_colorectal_screening"
    names = app.state.web.services.provider_names()
    care = _csv(clients["coordinateur"][0].get(f"/indicateurs/{measure}?periode=2025&format=csv"))
    named = [r for r in care if r["RPPS du médecin traitant"] == centre.soignant_rpps]
    assert named and named[0]["médecin traitant"] == names[centre.soignant_rpps]
    research = _csv(clients["chercheur"][0].get(f"/indicateurs/{measure}?periode=2024&format=csv"))
    assert research and "médecin traitant" not in research[0]


def test_patientele_access_flows_and_exports(app, clients) -> None:
    client, _ = clients["coordinateur"]
    html = client.get("/patientele?date=2025-12-31").text
    assert "Accès aux soins : patients vus en 24 mois" in html
    assert "dont d&#39;un confrère" in html or "dont d'un confrère" in html
    assert "janv. 2025" in html and ">2025-01<" not in html
    access = _csv(client.get("/patientele?date=2025-12-31&format=csv&tableau=acces"))
    data = app.state.web.services.patientele(pd.Timestamp("2025-12-31").date(), parse_period("2025"))
    assert [int(r["vus"]) for r in access] == [int(v) for v in data["access"].seen]
    flows = _csv(client.get("/patientele?date=2025-12-31&format=csv&tableau=flux"))
    assert flows[0]["mois"] == "janv. 2025" and "d'un confrère" in flows[0]
    pyramid = _csv(client.get("/patientele?date=2025-12-31&format=csv&tableau=pyramide"))
    assert list(pyramid[0]) == ["tranche d'âge", "hommes", "femmes", "total"]


def test_protected_patientele_export_has_no_care_team_table(clients) -> None:
    client, _ = clients["chercheur"]
    assert client.get("/patientele?date=2024-12-31&format=csv&tableau=acces").status_code == 404
    book = client.get("/patientele?date=2024-12-31&format=xlsx")
    names = load_workbook(io.BytesIO(book.content)).sheetnames
    assert names == ["Pyramide des âges", "Composition", "Niveaux de risque"]


def test_quality_exports_its_quarantine_rows(app, clients) -> None:
    client, _ = clients["coordinateur"]
    rows = _csv(client.get("/qualite?format=csv&tableau=quarantaine"))
    quarantine = app.state.web.services.quarantine()
    assert len(rows) == len(quarantine) > 0
    assert list(rows[0]) == ["fichier", "ligne", "champ", "motif", "valeur"]
    assert clients["soignant"][0].get("/qualite?format=csv").status_code == 403  # the page's own roles


def test_territory_exports_every_commune(app, clients) -> None:
    client, _ = clients["gestionnaire"]
    page = client.get("/territoire")
    assert 'id="territory-missing"' not in page.text  # the conftest installs the communes' reference
    rows = _csv(client.get("/territoire?format=csv&tableau=communes"))
    result = app.state.web.services.accessibility()
    code = re.search(r'<option value="([^"]+)" selected>', page.text).group(1)
    assert len(rows) == int((result.communes.departement == code).sum())
    assert list(rows[0]) == ["code INSEE", "commune", "habitants", "APL", "sous le seuil"]
    assert rows[0]["sous le seuil"] in ("oui", "non")

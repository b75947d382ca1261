"""The work list pages (issue 21 item 1, finding H3): one row per patient, paging, search, filters, exports with
French headers, a soignant's own patients, the coordination's list of patients without a médecin traitant,
never "nan", and a 404 « patient inconnu » for a pseudonym of nobody."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
from openpyxl import load_workbook

from proxisante.measures.gaps import actionable_measures, care_gaps
from proxisante.population import worklist


def _expected(app, provider: str | None = None):
    """The engines' own work list on the default period (12 months to the last data)."""
    services = app.state.web.services

    def compute():
        period = worklist.default_period(services.warehouse)
        return period, care_gaps(services.warehouse, period, actionable_measures(), provider_rpps=provider)

    return services.call(compute)


def _ids(html: str) -> list[str]:
    return re.findall(r'href="/actions/patients/(-?\d+)', html)


def test_one_row_per_patient_paged_with_the_data_end(clients, app) -> None:
    client, _ = clients["coordinateur"]
    period, gaps = _expected(app)
    first = client.get("/actions")
    assert first.status_code == 200
    assert f"Données jusqu'au <strong>{period.end:%d/%m/%Y}</strong>" in first.text
    total = gaps.person_id.nunique()
    assert re.search(r'id="actions-total">([\d\u202f ]+)<', first.text)[1].replace("\u202f", "") == str(total)
    assert total > 50, "the fixture must need two pages"
    one, two = _ids(first.text), _ids(client.get("/actions?page=2").text)
    assert len(one) == 50 == len(set(one)) and not set(one) & set(two)
    assert "Page 1 sur" in first.text and "rosp_antibiotics" not in first.text
    assert not re.search(r">\s*nan\s*<|\bnan\b", first.text)


def test_filters_search_and_sort(clients, app) -> None:
    client, _ = clients["coordinateur"]
    _, gaps = _expected(app)
    hba1c = gaps[gaps.measure_id == "rosp_diabetes_hba1c"].person_id.nunique()
    page = client.get("/actions?indicateur=rosp_diabetes_hba1c")
    assert re.search(r'id="actions-total">([\d\u202f ]+)<', page.text)[1].replace("\u202f", "") == str(hba1c)
    late = client.get("/actions?echeance=retard").text
    assert "ce mois-ci</span>" not in late
    rows = list(
        csv.DictReader(io.StringIO(client.get("/actions/export.csv").content.decode("utf-8-sig")), delimiter=";")
    )
    name = rows[0]["nom"]
    found = client.get(f"/actions?q={name.lower()}")
    named = pd.DataFrame({"family_name": [r["nom"] for r in rows], "given_names": [r["prénoms"] for r in rows]})
    assert name in found.text and len(_ids(found.text)) == len(worklist.search(named, name.lower())) >= 1
    by_name = client.get("/actions?tri=nom&ordre=desc").text
    assert 'aria-sort="descending"' in by_name
    assert client.get("/actions?tri=pointure").status_code == 422


def test_exports_csv_and_xlsx_in_french(clients, app) -> None:
    client, _ = clients["coordinateur"]
    _, gaps = _expected(app)
    response = client.get("/actions/export.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == gaps.person_id.nunique()
    assert {r["pseudonyme"] for r in rows} == {str(p) for p in gaps.person_id}
    assert list(rows[0])[:4] == ["nom", "prénoms", "né(e) le", "téléphone"]
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", r["à faire depuis"]) for r in rows)
    assert not [v for r in rows for v in r.values() if v.lower() == "nan"]
    book = load_workbook(io.BytesIO(client.get("/actions/export.xlsx").content))
    sheet = book["Liste de travail"]
    assert sheet.cell(2, 1).value == "nom" and sheet.max_row == len(rows) + 2
    audit = app.state.web.audit.entries(5)
    assert any("export XLSX liste de travail" in d for d in audit.detail)


def test_soignant_sees_own_patients_only(clients, app, centre) -> None:
    client, _ = clients["soignant"]
    _, gaps = _expected(app, centre.soignant_rpps)
    rows = list(
        csv.DictReader(io.StringIO(client.get("/actions/export.csv").content.decode("utf-8-sig")), delimiter=";")
    )
    assert {r["pseudonyme"] for r in rows} == {str(p) for p in gaps.person_id}
    assert client.get(f"/actions?medecin={centre.other_rpps}").status_code == 403
    assert client.get("/actions?sans_medecin=1").status_code == 403


def test_patients_without_a_medecin_traitant(clients) -> None:
    client, _ = clients["coordinateur"]
    page = client.get("/actions?sans_medecin=1")
    assert page.status_code == 200 and "sans médecin traitant" in page.text
    text = client.get("/actions/export.csv?sans_medecin=1").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert rows and all(r["médecin traitant"] == "" for r in rows)


def test_printable_list_and_plan(clients, centre) -> None:
    client, _ = clients["soignant"]
    printable = client.get("/actions?imprimer=1")
    assert 'href="/static/print.css">' in printable.text and "imprimée le" in printable.text
    assert "Dr " in printable.text  # the soignant's own list is titled with his name
    plan = client.get(f"/actions/patients/{centre.own_patient}")
    assert plan.status_code == 200 and 'media="print"' in plan.text and "Plan personnalisé de prévention" in plan.text
    assert "nan" not in re.sub(r"<[^>]+>", " ", plan.text).split()


def test_unknown_patient_is_a_404(clients) -> None:
    client, _ = clients["coordinateur"]
    page = client.get("/actions/patients/123")
    assert page.status_code == 404 and "patient inconnu" in page.text and "nan nan" not in page.text
    api = client.get("/api/prevention/123")
    assert api.status_code == 404 and "patient inconnu" in api.json()["detail"]


def test_api_work_list_per_patient(clients, app) -> None:
    client, _ = clients["coordinateur"]
    period, gaps = _expected(app)
    body = client.get("/api/gaps?par_patient=true&limit=5").json()
    assert body["period"] == period.label and body["data_end"] == period.end.isoformat()
    assert body["total"] == gaps.person_id.nunique() and len(body["rows"]) == 5
    assert body["rows"][0]["items"][0]["due_since"] <= period.end.isoformat()

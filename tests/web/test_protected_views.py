"""The published-periods policy and the objections, on the real engines of the test centre: what an account
outside the care team may ask for, and that a recorded objection leaves its figures."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from proxisante.identity.objection import ObjectionRegistry
from tests.lib.web import login, make_app

REFUSED = [
    "/api/measures/results?period=2025-T3",
    "/api/measures/results?period=12M:2025-06-30",
    "/api/measures/results?period=12M:2025-12-30",
    f"/api/measures/results?period={dt.date.today().year}",  # not over yet
    "/api/patientele?date=2025-06-30",
    "/api/patientele?date=2025-12-30",
    "/api/patientele?period=2025-T4",
    "/api/measures/rosp_diabetes_hba1c/series?start=2025-01&end=2025-11",
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_protected_audience_gets_closed_calendar_years_only(clients, url: str) -> None:
    refused = clients["chercheur"][0].get(url)
    assert refused.status_code == 422 and "années civiles" in refused.json()["detail"], refused.text
    assert clients["gestionnaire"][0].get(url).status_code == 422
    care_team = clients["coordinateur"][0].get(url)
    assert care_team.status_code == 200, care_team.text


def test_the_pages_refuse_the_same_periods(clients) -> None:
    researcher = clients["chercheur"][0]
    assert researcher.get("/patientele?date=2025-06-30").status_code == 422
    assert researcher.get("/indicateurs?periode=12M:2025-06-30").status_code == 422
    assert researcher.get("/indicateurs/rosp_diabetes_hba1c?periode=2025-T2").status_code == 422
    assert researcher.get("/patientele?date=2025-12-31").status_code == 200


def test_a_rolling_year_ending_on_31_12_is_that_calendar_year(clients) -> None:
    researcher = clients["chercheur"][0]
    rolling = researcher.get("/api/measures/results?period=12M:2025-12-31").json()
    year = researcher.get("/api/measures/results?period=2025").json()
    assert rolling == year and rolling["period"] == "2025"


def test_a_protected_series_has_one_point_per_closed_year(clients) -> None:
    researcher = clients["chercheur"][0]
    series = researcher.get("/api/measures/rosp_diabetes_hba1c/series?start=2023-01&end=2025-12").json()["rows"]
    assert [r["reference_date"][:10] for r in series] == ["2023-12-31", "2024-12-31", "2025-12-31"]
    totals = researcher.get("/api/measures/results?period=2025").json()["rows"]
    total = next(r for r in totals if r["measure_id"] == "rosp_diabetes_hba1c")
    assert {k: series[-1][k] for k in ("denominator", "numerator", "rate")} == {
        k: total[k] for k in ("denominator", "numerator", "rate")
    }


def test_the_researcher_page_masks_the_share_of_a_masked_count(clients) -> None:
    page = clients["chercheur"][0].get("/patientele").text
    table = page[page.index('id="composition"') : page.index("</table>", page.index('id="composition"'))]
    cell = r'<td class="num">([^<]*)</td>'
    rows = re.findall(r"<tr><td>([^<]*)</td>" + cell * 3, table)
    masked = [r for r in rows if r[1] == "s"]
    assert masked, "the fixture must have a masked composition row"
    assert all(share == "s" for *_, share in masked), masked


def test_an_objection_leaves_every_protected_figure(centre) -> None:
    """An objection recorded in the vault applies to the protected views without a new load; the care
    team still counts the patient (care is not a secondary use)."""
    application = make_app(centre.settings)
    installation = application.state.web.installation
    registry = ObjectionRegistry(installation.vault, installation.pseudonymiser)
    researcher = TestClient(application, base_url="http://127.0.0.1")
    coordinator = TestClient(application, base_url="http://127.0.0.1")
    login(researcher, "chercheur")
    login(coordinator, "coordinateur")

    def panel(client: TestClient) -> int:
        pyramid = client.get("/api/patientele?date=2025-12-31").json()["pyramid"]
        return next(r["patients"] for r in pyramid if r["age_band"] == "Total" and r["sex"] == "Total")

    before = panel(researcher)
    registry.add_person(centre.own_patient, "test")
    try:
        application.state.web.services._objections = (0.0, frozenset())  # read the vault again now
        assert panel(researcher) == before - 1
        assert panel(coordinator) == before
    finally:
        registry.remove_person(centre.own_patient, "test")
        installation.close()


def test_an_unreadable_objection_registry_fails_closed(centre, monkeypatch) -> None:
    """Figures that might count an objector are never sent: 503 in French while the vault cannot be read."""
    import duckdb

    def busy(self) -> frozenset[int]:
        raise duckdb.IOException("Could not set lock on file")

    application = make_app(centre.settings)
    try:
        client = TestClient(application, base_url="http://127.0.0.1")
        login(client, "chercheur")
        monkeypatch.setattr(ObjectionRegistry, "person_ids", busy)
        response = client.get("/api/measures/results?period=2025")
        assert response.status_code == 503 and "oppositions" in response.json()["detail"]
    finally:
        application.state.web.installation.close()

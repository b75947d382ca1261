"""Periods on the indicators pages and the API (issue 21 item 2): a quarter is the 12 months ending with it,
a period after the last data says so and shows no figure, the forms take what the CLI takes."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from proxisante.installation import open_installation
from proxisante.measures.periods import last_data_date
from tests.web.conftest import Centre


def _last(centre: Centre) -> str:
    installation = open_installation(centre.settings)
    try:
        last = last_data_date(installation.warehouse)
    finally:
        installation.close()
    assert last is not None
    return f"{last:%d/%m/%Y}"


def test_a_period_after_the_last_data_shows_no_figure(
    clients: dict[str, tuple[TestClient, str]], centre: Centre
) -> None:
    client, _ = clients["coordinateur"]
    expected = f"pas de données sur cette période (données jusqu&#39;au {_last(centre)})"
    for path in (
        "/indicateurs?periode=2030",
        "/indicateurs/rosp_flu_65?periode=2030-T2",
        f"/indicateurs/rosp_flu_65/medecins/{centre.soignant_rpps}?periode=12M:2031-06-30",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert expected in page.text, path
        assert "sous l&#39;objectif" not in page.text and "cible atteinte" not in page.text, path
    api = client.get("/api/measures/results?period=2030").json()
    assert api["rows"] == [] and api["message"].startswith("pas de données sur cette période")


def test_a_quarter_reads_as_its_12_months(clients: dict[str, tuple[TestClient, str]]) -> None:
    client, _ = clients["coordinateur"]
    page = client.get("/indicateurs?periode=2025-T3")
    assert "2025-T3 : 12 mois jusqu&#39;au 30/09/2025" in page.text
    quarter = client.get("/api/measures/results?period=2025-T3").json()["rows"]
    rolling = client.get("/api/measures/results?period=12M:30/09/2025").json()["rows"]
    strip = [{k: r[k] for k in ("measure_id", "numerator", "denominator")} for r in quarter]
    assert strip == [{k: r[k] for k in ("measure_id", "numerator", "denominator")} for r in rolling]
    assert sum(r["numerator"] for r in quarter) > 0
    month = client.get("/indicateurs/rosp_diabetes_hba1c?periode=2025-06")
    assert month.status_code == 200 and "2025-06 : 12 mois jusqu&#39;au 30/06/2025" in month.text


def test_an_impossible_day_is_refused(clients: dict[str, tuple[TestClient, str]]) -> None:
    client, _ = clients["coordinateur"]
    page = client.get("/indicateurs?periode=12M:2025-02-30")
    assert page.status_code == 422 and "Traceback" not in page.text


def test_series_stop_at_the_last_data(clients: dict[str, tuple[TestClient, str]], centre: Centre) -> None:
    client, _ = clients["coordinateur"]
    last = dt.datetime.strptime(_last(centre), "%d/%m/%Y").date()
    future = client.get("/api/measures/rosp_flu_65/series?start=2030-01&end=2030-06").json()
    assert future["rows"] == [] and future["message"].startswith("pas de données sur cette période")
    start, end = _shift(last, -3), _shift(last, 4)
    rows = client.get(f"/api/measures/rosp_flu_65/series?start={start:%Y-%m}&end={end:%Y-%m}").json()["rows"]
    assert len(rows) == 4 and rows[-1]["reference_date"][:7] == f"{last:%Y-%m}"


def _shift(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)

"""The call-list CSV of the web application: hostile names and phone numbers from the identity vault are
written so that no cell starts a spreadsheet formula (CSV injection)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

import proxisante.web.pages as pages
from proxisante.spreadsheet import is_hostile

HOSTILE = ["=1+1", '=HYPERLINK("http://evil.example/")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_the_call_list_csv_neutralises_formulas(clients, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pages.with_names

    def hostile_names(request, frame: pd.DataFrame, detail: str) -> pd.DataFrame:
        named = real(request, frame, detail)
        values = [HOSTILE[n % len(HOSTILE)] for n in range(len(named))]
        return named.assign(family_name=values, given_names=values, phone=values)

    monkeypatch.setattr(pages, "with_names", hostile_names)
    client, _ = clients["soignant"]
    response = client.get("/actions/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    cells = [cell for row in rows[1:] for cell in row]
    assert len(rows) > len(HOSTILE)
    assert not [c for c in cells if is_hostile(c)]
    assert {row[0] for row in rows[1:]} >= {"'" + h for h in HOSTILE}

"""The pages' figures read in French (issue 21, item 7): the pyramid as the PDF draws it (men left, women right,
the same colours, absolute values on the axis), grouped numbers never abbreviated ("10k"), French month ticks,
and a monthly point under its own month."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from proxisante import formats
from proxisante.disclosure import TOTAL
from proxisante.web import charts


def test_pyramid_as_the_pdf_draws_it() -> None:
    frame = pd.DataFrame(
        {"age_band": ["0-9", "10-19"] * 2, "sex": ["M", "M", "F", "F"], "patients": [120, 300, 110, 420]}
    )
    figure = json.loads(charts.pyramid(frame))
    men, women = figure["data"]
    assert (men["name"], men["marker"]["color"]) == ("Hommes", formats.PYRAMID_SIDES[0][2])
    assert (women["name"], women["marker"]["color"]) == ("Femmes", formats.PYRAMID_SIDES[1][2])
    assert men["x"] == [-120, -300] and women["x"] == [110, 420]  # men left, women right
    assert figure["layout"]["xaxis"]["tickvals"] == [-400, -200, 0, 200, 400]
    assert figure["layout"]["xaxis"]["ticktext"] == ["400", "200", "0", "200", "400"]


def test_axes_group_numbers_and_name_months_in_french() -> None:
    flows = pd.DataFrame({"month": ["2025-01", "2025-02", TOTAL], "panel_end": [10_000, 10_500, 10_500]})
    figure = json.loads(charts.panel_trend(flows))
    assert figure["layout"]["separators"] == ",\u202f"
    assert figure["layout"]["yaxis"]["exponentformat"] == "none"  # 10 000, not 10k
    assert figure["layout"]["yaxis"]["separatethousands"] is True
    assert figure["data"][0]["x"] == ["2025-01-01", "2025-02-01"]
    assert figure["layout"]["xaxis"]["ticktext"] == ["janv. 2025", "févr. 2025"]


def test_a_monthly_point_sits_under_its_month() -> None:
    ends = [dt.date(2025, 11, 30), dt.date(2025, 12, 31)]
    frame = pd.DataFrame({"reference_date": ends, "rate": [0.5, 0.6], "ci_low": [0.4, 0.5], "ci_high": [0.6, 0.7]})
    figure = json.loads(charts.series(frame, "Dépistage", True, 0.7, None))
    rate = figure["data"][1]
    assert rate["x"] == ["2025-11-01", "2025-12-01"]  # the 12 months ending 31/12/2025: under "déc. 2025"
    assert figure["layout"]["xaxis"]["ticktext"] == ["nov. 2025", "déc. 2025"]

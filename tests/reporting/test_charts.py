"""The PDF's age pyramid is the web page's (issue 21, item 7): men left, women right, the same colours as
``formats.PYRAMID_SIDES``, absolute numbers grouped the French way on the axis, a masked band left empty."""

from __future__ import annotations

import datetime as dt

from matplotlib.colors import to_hex

from proxisante import formats
from proxisante.disclosure import TOTAL
from proxisante.reporting import charts
from proxisante.reporting.model import (
    Column,
    Disclosure,
    Objection,
    PeriodInfo,
    Report,
    Row,
    Structure,
    Table,
)


def _report(rows: list[Row]) -> Report:
    columns = [
        Column("age_band", "âge", "text"),
        Column("sex_M", "hommes", "count"),
        Column("sex_F", "femmes", "count"),
    ]
    return Report(
        structure=Structure("Centre", ()),
        period=PeriodInfo("2025", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        previous_periods=[],
        generated_at=dt.datetime(2026, 1, 1),
        disclosure=Disclosure(10, False, "< 10", "secret", "source"),
        objection=Objection(True, ""),
        panel=[Table("panel_pyramid", "Pyramide", columns, rows)],
        activity=[],
        indicators=[],
        economics=None,
        notes=[],
    )


def test_pyramid_sides_colours_and_axis() -> None:
    rows = [
        Row({"age_band": "0-9", "sex_M": 1200, "sex_F": 1100}),
        Row({"age_band": "10-19", "sex_M": 900, "sex_F": 12_000}),
        Row({"age_band": "95+", "sex_M": None, "sex_F": None}, {"sex_M": "primary", "sex_F": "secondary"}),
        Row({"age_band": TOTAL, "sex_M": 2100, "sex_F": 13_100}),
    ]
    figure = charts.pyramid_figure(_report(rows))
    axis = figure.axes[0]
    men, women = axis.containers
    assert [bar.get_width() for bar in men] == [-1200, -900, 0]  # left
    assert [bar.get_width() for bar in women] == [1100, 12_000, 0]  # right
    assert to_hex(men[0].get_facecolor()) == formats.PYRAMID_SIDES[0][2]
    assert to_hex(women[0].get_facecolor()) == formats.PYRAMID_SIDES[1][2]
    figure.canvas.draw()
    labels = [t.get_text() for t in axis.get_xticklabels()]
    assert labels == ["10\u202f000", "5\u202f000", "0", "5\u202f000", "10\u202f000"]
    assert sorted(t.get_text() for t in axis.texts) == ["< 10", "secret"]
    assert charts.pyramid(_report(rows))[:4] == b"\x89PNG"

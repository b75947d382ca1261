"""Charts of the report, drawn with matplotlib from the protected model only (never from the warehouse).

A masked cell is not drawn: its bar is missing and the axis label says "secret", so that no chart
shows a value the tables hide. Each function returns PNG bytes for the PDF and the workbook.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from proxisante import formats
from proxisante.disclosure import TOTAL
from proxisante.reporting.model import Indicator, Report, Table

BLUE, GREY, GREEN = "#1f5f9e", "#8c8c8c", "#2e7d32"


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _table(report: Report, table_id: str) -> Table | None:
    return next((t for t in report.tables() if t.id == table_id), None)


def _french_axis(axis, absolute: bool = False) -> None:
    """Numbers of the x axis grouped the French way (12 345), as absolute values on a pyramid."""
    axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _: formats.number(abs(x) if absolute else x)))


def pyramid(report: Report) -> bytes | None:
    """Age pyramid of the patientèle as ``formats.PYRAMID_SIDES`` draws it on the web page too (men left, women
    right, the same colours, absolute numbers on the axis); a masked band is left empty and says why."""
    figure = pyramid_figure(report)
    return None if figure is None else _png(figure)


def pyramid_figure(report: Report):
    """The pyramid's matplotlib figure (None without the table), before it is written as PNG."""
    table = _table(report, "panel_pyramid")
    if table is None:
        return None
    rows = [r for r in table.rows if r.values["age_band"] != TOTAL]
    bands = [r.values["age_band"] for r in rows]
    figure, axis = plt.subplots(figsize=(7, 5))
    largest = 0.0
    for side, (sex, label, colour) in zip((-1, 1), formats.PYRAMID_SIDES, strict=True):
        values = [r.values[f"sex_{sex}"] or 0 for r in rows]
        largest = max([largest, *values])
        axis.barh(bands, [side * v for v in values], color=colour, label=label)
    for index, r in enumerate(rows):
        for side, (sex, _, _) in zip((-1, 1), formats.PYRAMID_SIDES, strict=True):
            key = f"sex_{sex}"
            if key in r.masked:
                axis.text(
                    side * largest * 0.01,
                    index,
                    report.mask_label(r.masked[key]),
                    va="center",
                    ha="right" if side < 0 else "left",
                    fontsize=6,
                    color=GREY,
                )
    axis.axvline(0, color="black", linewidth=0.6)
    ticks = formats.pyramid_ticks(largest)
    axis.set_xticks(ticks)
    axis.set_xlim(-largest * 1.08 or -1, largest * 1.08 or 1)
    _french_axis(axis, absolute=True)
    axis.set_xlabel("patients")
    axis.set_title(formats.PYRAMID_TITLE)
    axis.legend(loc="lower right")
    return figure


def indicators(report: Report) -> bytes | None:
    """Rates of the proportion indicators with their 95 % interval and target; masked ones are not drawn."""
    shown: list[Indicator] = [i for i in report.indicators if i.scoring == "proportion"]
    if not shown:
        return None
    figure, axis = plt.subplots(figsize=(8, 0.28 * len(shown) + 1.2))
    for y, i in enumerate(reversed(shown)):
        if i.rate is not None and i.ci_low is not None and i.ci_high is not None:
            below, above = max(0.0, 100 * (i.rate - i.ci_low)), max(0.0, 100 * (i.ci_high - i.rate))
            axis.errorbar(100 * i.rate, y, xerr=[[below], [above]], fmt="o", color=BLUE, markersize=4, capsize=2)
        else:
            axis.text(1, y, "secret" if i.masked else "non calculable", va="center", fontsize=7, color=GREY)
        if i.objective_target is not None:
            axis.plot(100 * i.objective_target, y, marker="|", color=GREEN, markersize=10)
    axis.set_yticks(range(len(shown)), [i.short_label for i in reversed(shown)], fontsize=7)
    axis.set_xlim(0, 100)
    axis.set_xlabel("taux (%) et intervalle de confiance à 95 % ; trait vert : cible")
    axis.set_title(f"Indicateurs — {report.period.label}")
    axis.grid(axis="x", alpha=0.3)
    return _png(figure)


def activity(report: Report) -> bytes | None:
    """Contacts of the period by profession (published values only)."""
    table = _table(report, "activity_professions")
    if table is None:
        return None
    rows = [r for r in table.rows if r.values["profession"] != TOTAL]
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.2))
    names = [str(r.values["profession"]) for r in rows]
    values = [r.values["contacts"] or 0 for r in rows]
    axis.barh(names, values, color=BLUE)
    for index, r in enumerate(rows):
        if "contacts" in r.masked:
            axis.text(0, index, " " + report.mask_label(r.masked["contacts"]), va="center", fontsize=8, color=GREY)
    axis.invert_yaxis()
    _french_axis(axis)
    axis.set_xlabel("contacts")
    axis.set_title(f"Contacts par profession — {report.period.label}")
    return _png(figure)


def all_charts(report: Report) -> dict[str, bytes]:
    """Every chart that has data, by name."""
    drawn = {"pyramide": pyramid(report), "indicateurs": indicators(report), "activite": activity(report)}
    return {name: png for name, png in drawn.items() if png is not None}

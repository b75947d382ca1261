"""Charts of the report, drawn with matplotlib from the protected model only (never from the warehouse).

A masked cell is not drawn: its bar is missing and the axis label says "secret", so that no chart
shows a value the tables hide. Each function returns PNG bytes for the PDF and the workbook.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from proxisante.disclosure import TOTAL
from proxisante.reporting.model import Indicator, Report, Table

BLUE, ORANGE, GREY, GREEN = "#1f5f9e", "#d9822b", "#8c8c8c", "#2e7d32"


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _table(report: Report, table_id: str) -> Table | None:
    return next((t for t in report.tables() if t.id == table_id), None)


def pyramid(report: Report) -> bytes | None:
    """Age pyramid of the patientèle: women left, men right; masked bands are left empty."""
    table = _table(report, "panel_pyramid")
    if table is None:
        return None
    rows = [r for r in table.rows if r.values["age_band"] != TOTAL]
    bands = [r.values["age_band"] for r in rows]
    women = [-(r.values["sex_F"] or 0) for r in rows]
    men = [r.values["sex_M"] or 0 for r in rows]
    figure, axis = plt.subplots(figsize=(7, 5))
    axis.barh(bands, women, color=ORANGE, label="Femmes")
    axis.barh(bands, men, color=BLUE, label="Hommes")
    for index, r in enumerate(rows):
        for key, side in (("sex_F", -1), ("sex_M", 1)):
            if key in r.masked:
                axis.text(
                    side * 2,
                    index,
                    report.mask_label(r.masked[key]),
                    va="center",
                    ha="right" if side < 0 else "left",
                    fontsize=7,
                    color=GREY,
                )
    axis.axvline(0, color="black", linewidth=0.6)
    axis.set_xticks(axis.get_xticks(), [f"{abs(int(x))}" for x in axis.get_xticks()])
    axis.set_xlabel("patients")
    axis.set_title("Pyramide des âges de la patientèle médecin traitant")
    axis.legend(loc="lower right")
    return _png(figure)


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
    axis.set_xlabel("contacts")
    axis.set_title(f"Contacts par profession — {report.period.label}")
    return _png(figure)


def all_charts(report: Report) -> dict[str, bytes]:
    """Every chart that has data, by name."""
    drawn = {"pyramide": pyramid(report), "indicateurs": indicators(report), "activite": activity(report)}
    return {name: png for name, png in drawn.items() if png is not None}

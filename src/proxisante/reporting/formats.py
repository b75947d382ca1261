"""French display of the model's values, shared by the PDF and the workbook: 12 345 ; 61,2 % ; "< 10"."""

from __future__ import annotations

import math
from typing import Any

from proxisante import formats as shared
from proxisante.disclosure import load_settings
from proxisante.formats import NO_BREAK_SPACE, fixed, french
from proxisante.reporting.model import Column, Indicator, Report, Row, Table

# Columns of internal codes (the JSON's keys) that a reader does not need when a label is beside them.
INTERNAL_CODES = ("indicator",)


def number(value: float | int | None, digits: int = 0) -> str:
    """The report's numbers: "—" when missing, whole numbers rounded half to even."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return fixed(value, digits) if digits else french(f"{round(value):,}")


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{number(100 * value, digits)}{NO_BREAK_SPACE}%"


def euros(value: float | None) -> str:
    return "—" if value is None else f"{number(value / 1000)}{NO_BREAK_SPACE}k€"


def cell(report: Report, row: Row, column: Column) -> str:
    """A table cell as the reader sees it: masked counts and the values derived from them say why."""
    if column.key in row.masked:
        return report.mask_label(row.masked[column.key])
    value: Any = row.values.get(column.key)
    if column.kind == "count":
        return number(value)
    if column.kind == "share":
        return percent(value)
    if column.kind == "amount":
        return euros(value)
    if column.kind in ("rate", "number"):
        return number(value, 1)
    return "" if value is None else str(value)


def rate(indicator: Indicator, value: float | None) -> str:
    if value is None:
        return "—"
    return shared.rate(value, indicator.scoring)  # 34,7 pour 100, as on the web and the command line


def indicator_rate(report: Report, indicator: Indicator) -> tuple[str, str]:
    """(rate, interval) of an indicator, or why there is none: masked, or under the minimum denominator."""
    if indicator.masked:  # a rate is never "< 10": it is secret
        return report.disclosure.secondary_label, ""
    if not indicator.reportable or indicator.rate is None:
        return "n.s.", ""
    low, high = rate(indicator, indicator.ci_low), rate(indicator, indicator.ci_high)
    return rate(indicator, indicator.rate), f"[{low} ; {high}]"


def indicator_count(report: Report, indicator: Indicator, key: str) -> str:
    if key in indicator.masked_counts:
        return report.mask_label(indicator.masked_counts[key])
    return number(getattr(indicator, key))


def objectives(indicator: Indicator) -> str:
    values = (indicator.objective_intermediate, indicator.objective_target)
    goals = [rate(indicator, v) for v in values if v is not None]
    return " / ".join(goals)


GROUP_LABELS = {
    "chronic": "Suivi des pathologies chroniques",
    "prevention": "Prévention",
    "efficiency": "Efficience",
    "pertinence": "Pertinence",
}


def reader_columns(table: Table) -> list[Column]:
    """The columns a reader sees: an internal code (``indicator``: panel, ald, c2s…) is for the JSON, the
    reader has its French label beside it."""
    labelled = any(c.key == "label" for c in table.columns)
    return [c for c in table.columns if not (labelled and c.key in INTERNAL_CODES)]


def threshold_note(report: Report) -> str:
    """Where the disclosure threshold comes from, in French: its label in ``disclosure.yaml``, and the
    threshold fixed for this report when the caller chose another. The file's detailed source is English
    (a developer's note with its references): it is named, not printed."""
    rule = load_settings().threshold
    text = f"Seuil appliqué : {report.disclosure.threshold} personnes, {rule.label}"
    if report.disclosure.threshold != rule.value:
        text += f" ; fixé pour ce rapport (disclosure.yaml indique {rule.value})"
    return text + ". Source détaillée (en anglais) : disclosure.yaml, livré avec proxisante."

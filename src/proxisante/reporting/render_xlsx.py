"""The workbook rendering of the report (openpyxl): one sheet per part, numbers as numbers, charts as images.

A masked count is written as the text the reader must see ("< 10", "secret") on a grey background, so
that no formula or sort can turn it back into a number; shares and rates are numbers with a French
percentage format.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from proxisante import formats as presenter
from proxisante.reporting import charts, formats
from proxisante.reporting.model import Column, Indicator, Report, Table
from proxisante.spreadsheet import BOLD, save_workbook, set_widths, write_header

HEADER = PatternFill("solid", fgColor="DDE6F0")
MASKED = PatternFill("solid", fgColor="EEEEEE")
FORMATS = {"count": "#,##0", "share": "0.0 %", "rate": "0.0", "amount": "#,##0 €", "number": "0.0"}


def _header(sheet: Worksheet, row: int, labels: list[str], freeze: str | None = None) -> None:
    write_header(sheet, labels, row, freeze=freeze, fill=HEADER, wrap=True)


def _put(sheet: Worksheet, row: int, column: int, value: Any, kind: str = "text", masked: str = "") -> None:
    cell = sheet.cell(row, column, masked or value)
    if masked:
        cell.fill = MASKED
        cell.alignment = Alignment(horizontal="right")
    elif kind in FORMATS and value is not None:
        cell.number_format = FORMATS[kind]


def _table_sheet(book: Workbook, report: Report, table: Table, name: str) -> None:
    sheet = book.create_sheet(name)
    sheet.cell(1, 1, table.title).font = Font(bold=True, size=12)
    columns = formats.reader_columns(table)
    _header(sheet, 3, [c.label for c in columns], freeze="A4")
    for r, row in enumerate(table.rows, start=4):
        for c, column in enumerate(columns, start=1):
            masked = report.mask_label(row.masked[column.key]) if column.key in row.masked else ""
            _put(sheet, r, c, row.values.get(column.key), column.kind, masked)
    if table.note:
        sheet.cell(len(table.rows) + 5, 1, table.note).font = Font(italic=True)
    set_widths(sheet, [max(12, min(48, len(c.label) + 4)) if c.kind != "text" else 34 for c in columns])


def _summary(book: Workbook, report: Report) -> None:
    sheet = book.active
    sheet.title = "Synthèse"
    sheet.cell(1, 1, report.title).font = Font(bold=True, size=14)
    lines = [
        ("Structure", report.structure.name),
        *(("Site", f"{s.name} — FINESS {s.finess or 'inconnu'} ({s.structure_type})") for s in report.structure.sites),
        ("Période", f"{report.period.label} : du {report.period.start:%d/%m/%Y} au {report.period.end:%d/%m/%Y}"),
        ("Périodes de tendance", ", ".join(report.previous_periods) or "aucune"),
        ("Généré le (UTC)", f"{report.generated_at:%d/%m/%Y %H:%M}"),
        ("Version du schéma", report.schema_version),
        (
            "Secret statistique",
            f"seuil {report.disclosure.threshold} : « {report.disclosure.primary_label} » petit "
            f"effectif, « {report.disclosure.secondary_label} » suppression secondaire",
        ),
        ("Opposition", report.objection.text),
        *(("Note", note) for note in report.notes),
    ]
    for row, (label, text) in enumerate(lines, start=3):
        sheet.cell(row, 1, label).font = BOLD
        sheet.cell(row, 2, text).alignment = Alignment(wrap_text=True)
    set_widths(sheet, [24, 110])


def _indicator_values(report: Report, i: Indicator) -> list[tuple[Any, str, str]]:
    mask = report.disclosure.secondary_label if i.masked else ""
    kind = "number" if i.scoring == "events_per_100" else "share"
    shown = i.reportable and not i.masked
    rate = [(v if shown else None, kind, mask or ("" if shown else "n.s.")) for v in (i.rate, i.ci_low, i.ci_high)]
    goals = [(v, kind, "") for v in (i.objective_intermediate, i.objective_target)]
    counts = [
        (getattr(i, k), "count", report.mask_label(i.masked_counts[k]) if k in i.masked_counts else "")
        for k in ("denominator", "exclusions", "numerator", "eligible")
    ]
    return [
        (i.id, "text", ""),
        (i.short_label, "text", ""),
        (formats.GROUP_LABELS.get(i.group, i.group), "text", ""),
        (", ".join(i.programme), "text", ""),
        ("plus haut" if i.direction == "higher" else "plus bas", "text", ""),
        *counts,
        *rate,
        *goals,
        (i.status, "text", ""),
        (i.evolution, "text", ""),
    ]


def _indicators(book: Workbook, report: Report) -> None:
    sheet = book.create_sheet("Indicateurs")
    sheet.cell(1, 1, f"Indicateurs — {report.period.label}").font = Font(bold=True, size=12)
    labels = [
        "id",
        "indicateur",
        "groupe",
        "programme",
        "sens",
        "dénominateur",
        "exclusions",
        "numérateur",
        presenter.COUNT_LABELS["eligible"],
        "taux",
        "IC bas",
        "IC haut",
        "objectif intermédiaire",
        "cible",
        "statut",
        "évolution",
    ]
    _header(sheet, 3, labels, freeze="C4")
    for r, indicator in enumerate(report.indicators, start=4):
        for c, (value, kind, masked) in enumerate(_indicator_values(report, indicator), start=1):
            _put(sheet, r, c, value, kind, masked)
    note = (
        "Taux en % (proportions) ou pour 100 patients (événements) ; n.s. : dénominateur sous le minimum. "
        + presenter.DENOMINATOR_NOTE
    )
    sheet.cell(len(report.indicators) + 5, 1, note).font = Font(italic=True)
    set_widths(sheet, [30, 44, 22, 12, 10, *([12] * 9), 18, 16])
    _trend(book, report)


def _trend(book: Workbook, report: Report) -> None:
    sheet = book.create_sheet("Tendances")
    periods = [*report.previous_periods, report.period.label]
    _header(sheet, 1, ["id", "indicateur", *periods])
    for r, i in enumerate(report.indicators, start=2):
        sheet.cell(r, 1, i.id)
        sheet.cell(r, 2, i.short_label)
        for c, point in enumerate(i.trend, start=3):
            masked = report.disclosure.secondary_label if point.masked else ("" if point.reportable else "n.s.")
            _put(sheet, r, c, point.rate, "number" if i.scoring == "events_per_100" else "share", masked)
    set_widths(sheet, [30, 44, *([12] * len(periods))])


def _economics(book: Workbook, report: Report) -> None:
    e = report.economics
    if e is None:
        return
    sheet = book.create_sheet("Économie")
    sheet.cell(1, 1, f"Résumé économique — {e.year}").font = Font(bold=True, size=12)
    columns = [
        Column("label", "modèle de paiement", "text"),
        Column("revenue", "recettes", "amount"),
        Column("cost", "charges", "amount"),
        Column("result", "résultat", "amount"),
        Column("result_p5", "résultat P5", "amount"),
        Column("result_p95", "résultat P95", "amount"),
        Column("margin", "marge", "share"),
        Column("probability_positive", "P(résultat > 0)", "share"),
    ]
    _header(sheet, 3, [c.label for c in columns])
    for r, model in enumerate(e.models, start=4):
        for c, column in enumerate(columns, start=1):
            _put(sheet, r, c, getattr(model, column.key), column.kind)
    sheet.cell(len(e.models) + 5, 1, e.note).font = Font(italic=True)
    set_widths(sheet, [32, *([15] * 7)])


def _charts(book: Workbook, report: Report) -> None:
    drawn = charts.all_charts(report)
    if not drawn:
        return
    sheet = book.create_sheet("Graphiques")
    row = 1
    for name, png in drawn.items():
        sheet.cell(row, 1, name).font = BOLD
        image = Image(io.BytesIO(png))
        scale = min(1.0, 900 / image.width)
        image.width, image.height = image.width * scale, image.height * scale
        sheet.add_image(image, f"A{row + 1}")
        row += int(image.height / 20) + 4


SHEET_NAMES = {
    "panel_pyramid": "Pyramide",
    "panel_composition": "Composition",
    "panel_access": "Accès aux soins",
    "activity_professions": "Professions",
    "activity_acts": "Actes",
}


def render_xlsx(report: Report) -> bytes:
    """The report as an .xlsx workbook."""
    book = Workbook()
    _summary(book, report)
    for table in report.tables():
        _table_sheet(book, report, table, SHEET_NAMES.get(table.id, table.id[:31]))
    _indicators(book, report)
    _economics(book, report)
    _charts(book, report)
    buffer = io.BytesIO()
    save_workbook(book, buffer)
    return buffer.getvalue()

"""The PDF rendering of the report (reportlab): A4, a title page, tables, charts, "page X / Y" on every page.

The text uses the DejaVu fonts that matplotlib ships, so that French typography (narrow no-break
spaces, €, ≥) prints everywhere without a network or a system font. The page count is known only
once every page is laid out: the canvas keeps each page and writes the footers at the end.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus import Table as PdfTable

from proxisante import formats as presenter
from proxisante.reporting import charts, formats
from proxisante.reporting.model import Report, Table

FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
HEADER_BG, MASKED_FG = colors.HexColor("#dde6f0"), colors.HexColor("#7a7a7a")
WIDTH = A4[0] - 3 * cm


@cache
def _fonts() -> None:
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


@cache
def _styles() -> dict[str, ParagraphStyle]:
    _fonts()
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontName=BOLD, fontSize=20, leading=26),
        "h1": ParagraphStyle("h1", parent=base["Heading1"], fontName=BOLD, fontSize=15, keepWithNext=1),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName=BOLD, fontSize=11.5, keepWithNext=1),
        "body": ParagraphStyle("body", parent=base["BodyText"], fontName=FONT, fontSize=9, leading=12),
        "small": ParagraphStyle("small", parent=base["BodyText"], fontName=FONT, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9),
    }


class _NumberedCanvas(canvas.Canvas):
    """A canvas that holds every page until the end, to print "page X / Y" with the real Y."""

    footer_text = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            # A standard font for the footer: its text stays readable in the page stream (tests read it back).
            self.setFont("Helvetica", 7.5)
            self.setFillColor(colors.grey)
            self.drawString(1.5 * cm, 1 * cm, self.footer_text)
            self.drawRightString(A4[0] - 1.5 * cm, 1 * cm, f"page {number} / {total}")
            super().showPage()
        super().save()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(_escape(text), _styles()[style])


def _grid(header: list[str], rows: list[list[str]], masked: list[tuple[int, int]], widths=None) -> PdfTable:
    """A table with a repeated header row; masked cells in grey italics-free grey text."""
    cell = _styles()["cell"]
    data = [[Paragraph(_escape(h), cell) for h in header]]
    data += [[Paragraph(_escape(v), cell) for v in r] for r in rows]
    table = PdfTable(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b0b0")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    style += [("BACKGROUND", (c, r + 1), (c, r + 1), colors.HexColor("#f0f0f0")) for r, c in masked]
    table.setStyle(TableStyle(style))
    return table


def _model_table(report: Report, table: Table) -> list:
    columns = formats.reader_columns(table)
    header = [c.label for c in columns]
    rows, masked = [], []
    for r_index, row in enumerate(table.rows):
        rows.append([formats.cell(report, row, c) for c in columns])
        masked += [(r_index, c_index) for c_index, c in enumerate(columns) if c.key in row.masked]
    flow = [_p(table.title, "h2"), _grid(header, rows, masked)]
    if table.note:
        flow.append(_p(table.note, "small"))
    return [*flow, Spacer(1, 0.3 * cm)]


def _chart(png: bytes | None, width: float = WIDTH) -> list:
    if png is None:
        return []
    image = Image(io.BytesIO(png))
    scale = min(1.0, width / image.imageWidth)
    image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
    return [image, Spacer(1, 0.3 * cm)]


def _title_page(report: Report) -> list:
    sites = "; ".join(f"{s.name} (FINESS {s.finess or 'inconnu'})" for s in report.structure.sites)
    lines = [
        Spacer(1, 5 * cm),
        _p("Rapport d'activité et de qualité", "title"),
        _p(report.structure.name, "h1"),
        _p(f"Période {report.period.label} : du {report.period.start:%d/%m/%Y} au {report.period.end:%d/%m/%Y}", "h2"),
        Spacer(1, 1 * cm),
        _p(f"Sites : {sites or 'non renseignés'}"),
        _p(f"Généré le {report.generated_at:%d/%m/%Y à %H:%M} (UTC) — schéma {report.schema_version}"),
        Spacer(1, 1 * cm),
        _p(_disclosure_text(report)),
        _p(report.objection.text),
        _p(
            "Ce rapport est accompagné d'un manifeste (empreintes SHA-256 de chaque fichier) signé par la clé Ed25519 "
            "de la structure : « proxisante report verify DOSSIER » vérifie qu'aucun fichier n'a été modifié."
        ),
        PageBreak(),
    ]
    return lines


def _disclosure_text(report: Report) -> str:
    d = report.disclosure
    return (
        f"Secret statistique : aucun effectif de 1 à {d.threshold - 1} n'est publié. Un effectif trop petit est "
        f"remplacé par « {d.primary_label} » ; « {d.secondary_label} » masque un effectif qui permettrait de le "
        "retrouver par différence (suppression secondaire). Les taux, parts et intervalles calculés sur un effectif "
        "masqué sont masqués aussi."
    )


def _indicators(report: Report) -> list:
    flow: list = [_p("Indicateurs de qualité et de pertinence", "h1"), *_chart(charts.indicators(report))]
    header = ["indicateur", "dénom.", "excl.", "num.", "taux", "IC 95 %", "objectifs", "statut", "évolution"]
    widths = [4.1 * cm, 1.4 * cm, 1.4 * cm, 1.3 * cm, 1.6 * cm, 2.4 * cm, 1.9 * cm, 1.9 * cm, 2.0 * cm]
    for group, label in formats.GROUP_LABELS.items():
        chosen = [i for i in report.indicators if i.group == group]
        if not chosen:
            continue
        rows, masked = [], []
        for index, i in enumerate(chosen):
            arrow = "↑" if i.direction == "higher" else "↓"
            shown, interval = formats.indicator_rate(report, i)
            rows.append(
                [
                    f"{i.short_label} {arrow}",
                    *(formats.indicator_count(report, i, k) for k in ("denominator", "exclusions", "numerator")),
                    shown,
                    interval,
                    formats.objectives(i),
                    i.status,
                    i.evolution,
                ]
            )
            masked += [(index, c) for c in (1, 2, 3, 4)] if i.masked else []
        flow += [_p(label, "h2"), _grid(header, rows, masked, widths), Spacer(1, 0.3 * cm)]
    legend = (
        f"{presenter.DENOMINATOR_NOTE} "
        "↑ plus haut est mieux, ↓ plus bas est mieux ; n.s. : dénominateur sous le minimum de l'indicateur ; "
        "évolution : intervalles à 95 % disjoints de ceux de la période précédente."
    )
    flow.append(_p(legend, "small"))
    return [*flow, *_trend(report)]


def _trend(report: Report) -> list:
    if not report.previous_periods:
        return []
    periods = [*report.previous_periods, report.period.label]
    rows, masked = [], []
    for index, i in enumerate(report.indicators):
        cells = []
        for column, point in enumerate(i.trend, start=1):
            if point.masked:
                cells.append(report.disclosure.secondary_label)
                masked.append((index, column))
            else:
                cells.append(formats.rate(i, point.rate) if point.reportable else "n.s.")
        rows.append([i.short_label, *cells])
    widths = [7 * cm, *([2.4 * cm] * len(periods))]
    return [_p("Tendance sur les périodes précédentes", "h2"), _grid(["indicateur", *periods], rows, masked, widths)]


def _economics(report: Report) -> list:
    e = report.economics
    if e is None:
        return []
    header = ["modèle de paiement", "recettes", "charges", "résultat", "P5", "P95", "marge", "P(résultat > 0)"]
    rows = [
        [
            m.label,
            formats.euros(m.revenue),
            formats.euros(m.cost),
            formats.euros(m.result),
            formats.euros(m.result_p5),
            formats.euros(m.result_p95),
            formats.percent(m.margin),
            formats.percent(m.probability_positive, 0),
        ]
        for m in e.models
    ]
    return [PageBreak(), _p(f"Résumé économique — {e.year}", "h1"), _grid(header, rows, []), _p(e.note, "small")]


def render_pdf(report: Report) -> bytes:
    """The report as an A4 PDF."""
    _fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.8 * cm,
        title=report.title,
        author=report.structure.name,
        subject="Rapport d'activité et de qualité",
        creator="proxisante",
    )
    by_id = {t.id: t for t in report.tables()}
    story = _title_page(report)
    story += [_p("Patientèle", "h1")]
    story += _model_table(report, by_id["panel_composition"]) if "panel_composition" in by_id else []
    story += _chart(charts.pyramid(report), width=WIDTH * 0.8)
    story += [x for t in report.panel if t.id != "panel_composition" for x in _model_table(report, t)]
    story += [PageBreak(), _p("Activité", "h1"), *_chart(charts.activity(report), width=WIDTH * 0.8)]
    story += [x for t in report.activity for x in _model_table(report, t)]
    story += [PageBreak(), *_indicators(report), *_economics(report)]
    story += [PageBreak(), _p("Méthode", "h1"), _p(_disclosure_text(report)), _p(report.objection.text)]
    story += [_p(formats.threshold_note(report), "small"), *(_p(n) for n in report.notes)]

    class Footer(_NumberedCanvas):
        footer_text = f"{report.structure.name} - rapport d'activité et de qualité {report.period.label}"

    document.build(story, canvasmaker=Footer)
    return buffer.getvalue()

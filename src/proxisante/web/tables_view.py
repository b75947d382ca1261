"""The tables of the pages as files: every table page (indicators, indicator, patientèle, quality, territory)
answers ``?format=csv&tableau=<id>`` with one table as a French CSV and ``?format=xlsx`` with all of them as
a workbook, one sheet each.

An export is the page's own route with two more query parameters, so that it is allowed to exactly the
roles that may read the page and shows exactly the figures the page shows (the same protected results for
a protected audience, with "s" for a masked count). The French shape of each table (headers, units,
rounding) is :mod:`proxisante.formats`'s, the presenter the command line and the PDF use too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import HTTPException, Request
from fastapi.responses import Response

from proxisante import formats
from proxisante.disclosure import TOTAL
from proxisante.measures.definition import Measure
from proxisante.measures.periods import Period
from proxisante.reporting.build import evolution, previous_periods
from proxisante.reporting.model import TrendPoint

EXPORTS = ("csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PYRAMID_COUNTS = ["hommes", "femmes", "total"]
MASKED = "s"  # what a protected table shows in place of a small count, on the page and in its export


@dataclass(frozen=True)
class Export:
    """One table of a page, as its file shows it: an identifier (``tableau=``), a title (the sheet's name)."""

    id: str
    title: str
    frame: pd.DataFrame


def export_url(request: Request, kind: str, table: str | None = None) -> str:
    """The page's own address with ``format`` (and ``tableau``) added: the link beside a table."""
    query = {k: v for k, v in request.query_params.items() if k not in ("format", "tableau")}
    query["format"] = kind
    if table:
        query["tableau"] = table
    return f"{request.url.path}?{urlencode(query)}"


def respond(exports: list[Export], kind: str, table: str | None, name: str) -> Response:
    """The file asked for: one table as CSV (BOM for Excel, ``;``), or the page's tables as a workbook."""
    if kind == "xlsx":
        sheets = {e.title: e.frame for e in exports}
        body = formats.xlsx_bytes(sheets)
        return _file(body, XLSX, f"{name}.xlsx")
    chosen = next((e for e in exports if e.id == (table or exports[0].id)), None)
    if chosen is None:
        known = ", ".join(e.id for e in exports)
        raise HTTPException(404, f"tableau inconnu : {table} (tableaux de la page : {known})")
    text = "\ufeff" + formats.csv_text(chosen.frame)
    return _file(text.encode("utf-8"), "text/csv; charset=utf-8", f"{name}-{chosen.id}.csv")


def _file(body: bytes, media: str, name: str) -> Response:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{safe}"'})


def masked(frame: pd.DataFrame, counts: list[str], protected: bool) -> pd.DataFrame:
    """A protected table's missing counts written "s" (masked), as the page writes them."""
    if not protected:
        return frame
    out = frame.copy()
    for column in (c for c in counts if c in out):
        out[column] = out[column].astype(object).where(out[column].notna(), MASKED)
    return out


# -- indicators ------------------------------------------------------------------------------------------------


def previous_period(span: Period) -> Period:
    """The period compared with ``span`` on the indicators page: the one before, as the PDF's "évolution"."""
    return previous_periods(span, 1)[0]


@dataclass(frozen=True)
class Comparison:
    """A measure's rate of the previous period beside this one's: what the indicators page shows."""

    rate: str
    delta: str
    evolution: str


def _point(label: str, row: Any) -> TrendPoint | None:
    if row is None or not bool(row.reportable) or pd.isna(row.rate) or getattr(row, "suppressed", ""):
        return None
    return TrendPoint(label, None, None, float(row.rate), float(row.ci_low), float(row.ci_high), True, None)


def comparisons(
    now: pd.DataFrame, before: pd.DataFrame, measures: Mapping[str, Measure], label: str
) -> dict[str, Comparison]:
    """measure id → the previous period's rate, the change (percentage points or per 100) and the verdict
    of the PDF (better, worse, stable when the 95 % intervals overlap)."""
    earlier = {r.measure_id: r for r in before[before.stratifier == ""].itertuples()}
    out = {}
    for row in now[now.stratifier == ""].itertuples():
        measure = measures[row.measure_id]
        then, current = _point(label, earlier.get(row.measure_id)), _point("", row)
        if then is None or current is None:
            out[row.measure_id] = Comparison(
                formats.rate(then.rate, measure.scoring) if then else "—", "—", "non calculable"
            )
            continue
        out[row.measure_id] = Comparison(
            formats.rate(then.rate, measure.scoring),
            formats.delta(current.rate, then.rate, measure.scoring),
            evolution(measure, then, current),
        )
    return out


def indicator_exports(
    frame: pd.DataFrame,
    measures: Mapping[str, Measure],
    previous: pd.DataFrame | None,
    names: Mapping[str, str] | None,
    protected: bool,
    table_id: str,
    title: str,
) -> list[Export]:
    shown = formats.indicator_table(frame, measures, names, previous)
    counts = [formats.COUNT_LABELS[k] for k in ("denominator", "exclusions", "numerator")]
    return [Export(table_id, title, masked(shown, counts, protected))]


# -- patientèle --------------------------------------------------------------------------------------------------


def pyramid_table(pyramid: pd.DataFrame) -> pd.DataFrame:
    """The pyramid as a table: one row per age band (the total last), men and women side by side."""
    wide = pyramid.pivot_table(index="age_band", columns="sex", values="patients", aggfunc="first", sort=False)
    wide = wide.reindex([b for b in dict.fromkeys(pyramid.age_band)])
    wide = wide.rename(columns={TOTAL: "total"}).reset_index()
    headers = {**formats.PYRAMID_HEADERS, "total": "total"}
    return formats.french_frame(wide, headers)


def patientele_exports(data: Mapping[str, pd.DataFrame], names: Mapping[str, str], care_team: bool) -> list[Export]:
    """The patientèle page's tables: pyramid, composition, risk levels and, for the care team, access to
    care, the panel per médecin traitant and the flows."""
    protected = not care_team
    composition = formats.french_frame(data["composition"], formats.COMPOSITION_HEADERS, shares=["share"])
    risk = formats.french_frame(data["risk"], formats.RISK_HEADERS, shares=["share"])
    exports = [
        Export("pyramide", "Pyramide des âges", masked(pyramid_table(data["pyramid"]), PYRAMID_COUNTS, protected)),
        Export("composition", "Composition", masked(composition, ["patients", "patientèle"], protected)),
        Export("risque", "Niveaux de risque", masked(risk, ["patients"], protected)),
    ]
    if not care_team:
        return exports
    access = formats.french_frame(data["access"], formats.ACCESS_HEADERS, shares=["share_without_mt"])
    panel = by_provider(data)
    panel = panel.assign(name=panel.mt_rpps.map(lambda r: names.get(str(r), "")))
    panel_headers = {"name": "médecin", "mt_rpps": "RPPS", "panel": "patients"}
    flows = formats.french_frame(data["flows"], formats.FLOW_HEADERS, months=["month"])
    return [
        *exports,
        Export("acces", "Accès aux soins", access),
        Export("medecins", "Par médecin traitant", formats.french_frame(panel, panel_headers)),
        Export("flux", "Flux de déclarations", flows),
    ]


def by_provider(data: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The panel of each médecin traitant (one row each, the total left out)."""
    frame = data.get("by_provider", pd.DataFrame(columns=["indicator", "mt_rpps", "panel"]))
    if not len(frame):
        return frame
    return frame[(frame.indicator == frame.indicator.iloc[0]) & (frame.mt_rpps != TOTAL)]


# -- quality, territory ------------------------------------------------------------------------------------------


def quality_exports(snapshot: Any, quarantine: pd.DataFrame, recent: pd.DataFrame) -> list[Export]:
    """The quality page's tables; the quarantine rows are the ones to send back to the software vendor."""
    batches = snapshot.last_batches.assign(
        committed=[formats.date(v.date()) + v.strftime(" %H:%M") for v in snapshot.last_batches.committed_at]
    )
    return [
        Export(
            "quarantaine",
            "Lignes en quarantaine",
            formats.french_frame(
                quarantine.assign(field=quarantine.field.fillna("(ligne)")),
                {"file_name": "fichier", "line": "ligne", "field": "champ", "reason": "motif", "value": "valeur"},
            ),
        ),
        Export(
            "rejets",
            "Rejets par motif",
            formats.french_frame(
                snapshot.rejects_by_reason.assign(field=snapshot.rejects_by_reason.field.fillna("(ligne)")),
                {"pivot_table": "table", "field": "champ", "reason": "motif", "rows": "lignes"},
            ),
        ),
        Export(
            "lots",
            "Derniers lots",
            formats.french_frame(
                batches,
                {
                    "batch_id": "lot",
                    "source": "source",
                    "committed": "validé le",
                    "files": "fichiers",
                    "rows_read": "lues",
                    "rows_loaded": "chargées",
                    "rows_quarantined": "quarantaine",
                },
            ),
        ),
        Export(
            "completude",
            "Complétude par mois",
            formats.french_frame(
                recent,
                {
                    "label": "table",
                    "month": "mois",
                    "rows": "lignes",
                    "persons": "patients",
                    "share_provider": "avec professionnel",
                    "share_concept": "avec code",
                },
                shares=["share_provider", "share_concept"],
                months=["month"],
            ),
        ),
    ]


def territory_exports(communes: pd.DataFrame, threshold: float, departement: str) -> list[Export]:
    """Every commune of the département by APL (the page shows the 30 lowest), and whether under the threshold."""
    frame = communes.assign(under=communes.apl < threshold)
    headers = {
        "code": "code INSEE",
        "name": "commune",
        "population": "habitants",
        "apl": "APL",
        "under": "sous le seuil",
    }
    return [Export("communes", f"APL {departement}", formats.french_frame(frame, headers, digits=2))]


def today_name(prefix: str, on: dt.date | str) -> str:
    """A file name: the page and its date or period (``indicateurs-2025``)."""
    return f"{prefix}-{on}".replace(":", "-").replace("/", "-")

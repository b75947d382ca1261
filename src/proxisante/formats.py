"""French formats of numbers, rates, euros and dates: the one home of the decimal comma and the narrow
no-break space, used by the command line, the web pages, the reports and the maps.

It is also the presenter of each figure, so that the web, the command line, the PDF and the exports agree:
the names of an indicator's counts (the denominator is counted before exclusions), rates per 100 ("34,7
pour 100"), months ("janv. 2025"), the age pyramid's sides and colours, and the French tables of every
CSV and workbook export (French headers, rounded numbers, oui/non, dd/mm/yyyy)."""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Iterable, Mapping
from typing import Protocol, SupportsFloat, SupportsInt, cast

import pandas as pd

NARROW_SPACE = "\u202f"  # between thousands: 12 345
NO_BREAK_SPACE = "\u00a0"  # before a unit: 61,2 %, 12 k€


def french(text: str) -> str:
    """Python's "12,345.6" written the French way: 12 345,6."""
    return text.replace(",", NARROW_SPACE).replace(".", ",")


def fixed(value: float, digits: int) -> str:
    """A number with ``digits`` decimals, French grouping and comma, no rule for a missing value: 3,21."""
    return french(f"{value:,.{digits}f}")


def number(value: object) -> str:
    """French thousands separator (narrow no-break space): 12 345."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return french(f"{int(cast(SupportsInt, value)):,}")


def decimal(value: float | None, digits: int = 1) -> str:
    """French decimal comma: 61,2."""
    if value is None or pd.isna(value):
        return "—"
    return fixed(value, digits)


def percent(value: float | None, digits: int = 1) -> str:
    """A share as a French percentage: 61,2 %."""
    return "—" if value is None or pd.isna(value) else f"{decimal(100 * value, digits)}{NO_BREAK_SPACE}%"


def keuros(value: object, unit: bool = True) -> str:
    """Thousands of euros: −248 k€."""
    return decimal(float(cast(SupportsFloat, value)) / 1000, 0) + (f"{NO_BREAK_SPACE}k€" if unit else "")


def date(value: dt.date | None) -> str:
    """dd/mm/yyyy, empty when missing."""
    if value is None or pd.isna(value):
        return ""
    return f"{value:%d/%m/%Y}"


# -- the presentation of each figure ------------------------------------------------------------------------
# One home for how a figure reads wherever it is shown (web page, command line, PDF, CSV or workbook
# export): the names of the counts, the rates per 100, the months, the age pyramid, the French CSV.

PER_100 = "events_per_100"  # a measure's scoring whose rate is events per 100 patients, not a share
PER_100_UNIT = "pour 100"
MINUS = "\u2212"  # a true minus sign: −3, as French typography writes it
MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")

# The counts of an indicator, named the same everywhere. "Dénominateur" is the target population BEFORE
# exclusions (as the ROSP and HAS texts count it), with the exclusions beside it; the rate is computed on
# the denominator minus the exclusions.
COUNT_LABELS = {
    "initial_population": "population initiale",
    "denominator": "dénominateur",
    "exclusions": "exclusions",
    "eligible": "dénominateur après exclusions",
    "numerator": "numérateur",
    "numerator_events": "événements",
}
DENOMINATOR_NOTE = (
    "Dénominateur : patients concernés avant exclusions ; taux = numérateur / (dénominateur − exclusions)."
)


def per_100(scoring: str) -> bool:
    """Whether a measure of this scoring is read as events per 100 patients rather than as a share."""
    return scoring == PER_100


def rate(value: object, scoring: str, digits: int = 1) -> str:
    """A measure's rate as the reader reads it: 61,2 % (a share) or 34,7 pour 100 (events per 100)."""
    if value is None or pd.isna(cast(float, value)):
        return "—"
    number_ = float(cast(SupportsFloat, value))
    unit = PER_100_UNIT.replace(" ", NO_BREAK_SPACE)  # never split across lines (a PDF cell, a narrow column)
    return f"{decimal(number_, digits)}{NO_BREAK_SPACE}{unit}" if per_100(scoring) else percent(number_, digits)


def interval(low: object, high: object, scoring: str) -> str:
    """A 95 % interval, each bound with its unit: [33,3 % ; 36,2 %], empty when a bound is missing."""
    if low is None or high is None or pd.isna(cast(float, low)) or pd.isna(cast(float, high)):
        return ""
    return f"[{rate(low, scoring)} ; {rate(high, scoring)}]"


def goal(value: float | None, scoring: str) -> str:
    """An objective: a whole percentage (65 %) or events per 100 with one decimal; empty when none."""
    if value is None:
        return ""
    return rate(value, scoring) if per_100(scoring) else percent(value, 0)


def signed(value: float, digits: int = 0) -> str:
    """A change with its sign, French separators and a true minus: +12, −3, +1,5; 0 without sign."""
    shown = fixed(abs(value), digits)
    if shown.strip("0,") == "":
        return shown
    return ("+" if value > 0 else MINUS) + shown


def delta(now: object, before: object, scoring: str) -> str:
    """The change of a rate since the previous period: +1,2 pt (percentage points) or −0,4 pour 100."""
    if now is None or before is None or pd.isna(cast(float, now)) or pd.isna(cast(float, before)):
        return "—"
    change = float(cast(SupportsFloat, now)) - float(cast(SupportsFloat, before))
    if per_100(scoring):
        return f"{signed(change, 1)}{NO_BREAK_SPACE}{PER_100_UNIT.replace(' ', NO_BREAK_SPACE)}"
    return f"{signed(100 * change, 1)}{NO_BREAK_SPACE}pt"


def month(value: object) -> str:
    """A month as French readers write it: janv. 2025 (from a date, a timestamp or "2025-01"); any other
    text (a total row) is returned as it is."""
    if value is None or (not isinstance(value, str) and pd.isna(cast(float, value))):
        return ""
    if isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value[:7] + "-01")
        except ValueError:
            return value
    else:
        day = cast(dt.date, value)
    return f"{MONTHS[day.month - 1]} {day.year}"


# -- the age pyramid ---------------------------------------------------------------------------------------
# The same on the web page and in the PDF: men on the left, women on the right (as INSEE draws them), the
# same colours, and the axis in absolute numbers of patients on both sides.

PYRAMID_TITLE = "Pyramide des âges de la patientèle médecin traitant"
PYRAMID_SIDES = (("M", "Hommes", "#1d4f91"), ("F", "Femmes", "#c0561c"))  # (sex, label, colour): left, right


def pyramid_ticks(largest: float, count: int = 4) -> list[int]:
    """Symmetric ticks of a pyramid's axis, round steps (1, 2, 5 × 10ⁿ): -400 … 0 … 400. The labels are
    their absolute values (:func:`number`), so that no axis shows a negative number of patients."""
    if largest <= 0:
        return [0]
    raw = largest / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    side = [int(step * k) for k in range(1, math.floor(largest / step) + 1)]
    return [-v for v in reversed(side)] + [0] + side


# -- French tables for export (CSV, workbook) ----------------------------------------------------------------


def csv_value(value: object, digits: int = 1) -> object:
    """A cell of a French export: booleans oui/non, floats rounded (no 1,38e-17), dates dd/mm/yyyy, missing
    values empty; whole numbers and text unchanged."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        shown = round(value, digits)
        return 0.0 if shown == 0 else shown  # never "-0,0"
    if isinstance(value, pd.Timestamp):
        return date(value.date())
    if isinstance(value, dt.date):
        return date(value)
    return value


def french_frame(
    frame: pd.DataFrame,
    headers: Mapping[str, str],
    digits: int = 1,
    shares: Iterable[str] = (),
    months: Iterable[str] = (),
) -> pd.DataFrame:
    """``frame``'s ``headers`` columns (in that order, those present), renamed to their French headers, every
    cell as :func:`csv_value` gives it: the one shape of every French CSV and workbook the product writes.
    ``shares`` columns (0.318) are written as percentages (31,8, their header says "(%)"), ``months`` columns
    as :func:`month` writes them (janv. 2025)."""
    as_share, as_month = set(shares), set(months)
    out = {}
    for column in (c for c in headers if c in frame.columns):
        values = [v.item() if hasattr(v, "item") else v for v in frame[column]]
        if column in as_share:
            values = [None if v is None or pd.isna(v) else 100 * float(v) for v in values]
        if column in as_month:
            values = [month(v) for v in values]
        header = f"{headers[column]} (%)" if column in as_share else headers[column]
        out[header] = [csv_value(v, digits) for v in values]
    return pd.DataFrame(out)


def csv_text(frame: pd.DataFrame) -> str:
    """A French CSV (``;`` between cells, decimal comma, CRLF), text cells neutralised for spreadsheets."""
    from proxisante import spreadsheet

    # A column of numbers and empty cells is of object type, which ``decimal=","`` leaves alone: each float is
    # written here, already rounded by :func:`csv_value` (25,0 ; 0,3).
    text = frame.map(lambda v: str(v).replace(".", ",") if isinstance(v, float) else v)
    buffer = io.StringIO()
    spreadsheet.write_csv(text, buffer, index=False, sep=";")
    return buffer.getvalue()


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """A workbook of French tables, one sheet each (title cut to Excel's 31 characters), bold header row."""
    from openpyxl import Workbook

    from proxisante import spreadsheet

    book = Workbook()
    book.remove(book.active)
    for title, frame in sheets.items():
        sheet = book.create_sheet(_sheet_title(title, book.sheetnames))
        spreadsheet.write_header(sheet, [str(c) for c in frame.columns], freeze="A2")
        for row in frame.itertuples(index=False):
            sheet.append([None if v == "" else v for v in row])
        spreadsheet.set_widths(sheet, [max(10, min(50, len(str(c)) + 2)) for c in frame.columns])
    buffer = io.BytesIO()
    spreadsheet.save_workbook(book, buffer)
    return buffer.getvalue()


def _sheet_title(title: str, taken: list[str]) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title)[:31] or "feuille"
    shown, n = cleaned, 2
    while shown in taken:
        shown, n = f"{cleaned[:28]} {n}", n + 1
    return shown


# -- indicator results as a French table -------------------------------------------------------------------


class Scored(Protocol):
    """What the presenter needs of a measure (``measures.definition.Measure``)."""

    @property
    def short_label(self) -> str: ...

    @property
    def scoring(self) -> str: ...


STRATIFIER_LABELS = {"age_band": "tranche d'âge", "sex": "sexe", "c2s": "C2S", "ald": "ALD", "commune": "commune"}


def indicator_table(
    frame: pd.DataFrame,
    measures: Mapping[str, Scored],
    names: Mapping[str, str] | None = None,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Indicator results (``measures.results.run``, protected or not) as the French table every export
    writes: label, counts (:data:`COUNT_LABELS`), the rate in its unit (% or pour 100, one decimal as shown),
    its interval, status. ``names`` (RPPS → name) adds the doctor's name beside the RPPS (for the care team
    only); ``previous`` (the results of the previous period) adds its rate and the change."""
    out = frame.copy()
    # an id the library does not know (results of an older library) keeps its id as label, as a proportion
    scale = [1.0 if m in measures and per_100(measures[m].scoring) else 100.0 for m in out.measure_id]
    out["label"] = [measures[m].short_label if m in measures else str(m) for m in out.measure_id]
    out["unit"] = [PER_100_UNIT if s == 1.0 else "%" for s in scale]
    for column in ("rate", "ci_low", "ci_high"):
        out[column] = [_scaled(v, s) for v, s in zip(out[column], scale, strict=True)]
    if "stratifier" in out:
        out["stratifier"] = out.stratifier.map(lambda s: STRATIFIER_LABELS.get(s, s))
    by = next((c for c in ("provider", "care_site") if c in out), None)
    if names is not None and by == "provider":
        out["provider_name"] = out.provider.map(lambda r: names.get(str(r), ""))
    if "suppressed" in out:
        out["suppressed"] = out.suppressed.fillna("").astype(str) != ""
    headers = {"label": "indicateur", "measure_id": "code", "period": "période"}
    if by == "provider":
        headers |= {"provider_name": "médecin traitant", "provider": "RPPS du médecin traitant"}
    elif by == "care_site":
        headers |= {"care_site": "site"}
    headers |= {"stratifier": "strate", "stratum": "valeur de la strate"}
    headers |= {k: v for k, v in COUNT_LABELS.items() if k in ("denominator", "exclusions", "numerator")}
    headers |= {"rate": "taux", "ci_low": "IC 95 % bas", "ci_high": "IC 95 % haut", "unit": "unité"}
    if previous is not None:
        before = _previous_rates(previous, by, measures)
        keys = ["measure_id", *([by] if by else [])]
        out = out.merge(before, on=keys, how="left")
        if "stratifier" in out:  # the previous period's rate is the whole row's: not beside a stratum
            out.loc[out.stratifier != "", "previous_rate"] = None
        out["delta"] = [_scaled_delta(n, b) for n, b in zip(out.rate, out.previous_rate, strict=True)]
        headers |= {"previous_rate": "taux de la période précédente", "delta": "évolution du taux"}
    headers |= {"reportable": "calculable", "objective": "statut", "suppressed": "secret statistique"}
    if "stratifier" in out and not (out.stratifier != "").any():
        headers = {k: v for k, v in headers.items() if k not in ("stratifier", "stratum")}
    return french_frame(out, headers)


def _scaled(value: object, scale: float) -> float | None:
    if value is None or pd.isna(cast(float, value)):
        return None
    return float(cast(SupportsFloat, value)) * scale


def _scaled_delta(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return None
    return round(now, 1) - round(before, 1)


def _previous_rates(previous: pd.DataFrame, by: str | None, measures: Mapping[str, Scored]) -> pd.DataFrame:
    rows = previous[previous.stratifier == ""] if "stratifier" in previous else previous
    rows = rows[rows.measure_id.isin(list(measures))]
    keys = ["measure_id", *([by] if by else [])]
    scales = [1.0 if per_100(measures[m].scoring) else 100.0 for m in rows.measure_id]
    rates = [_scaled(r, scale) for r, scale in zip(rows.rate, scales, strict=True)]
    return rows[keys].assign(previous_rate=rates)


# -- the patientèle's tables: one set of headers for the command line, the page and the exports ------------------

COMPOSITION_HEADERS = {"label": "caractéristique", "patients": "patients", "panel": "patientèle", "share": "part"}
RISK_HEADERS = {"level": "niveau", "patients": "patients", "share": "part"}
PYRAMID_HEADERS = {"age_band": "tranche d'âge", "M": "hommes", "F": "femmes"}
ACCESS_TITLE = "Accès aux soins : patients vus en 24 mois, avec et sans médecin traitant dans la structure"
ACCESS_HEADERS = {
    "age_band": "âge",
    "seen": "vus",
    "with_mt": "avec MT",
    "without_mt": "sans MT",
    "without_mt_ald": "dont ALD",
    "without_mt_c2s": "dont C2S",
    "share_without_mt": "part sans MT",
}
FLOW_HEADERS = {
    "mt_rpps": "médecin",
    "month": "mois",
    "panel_start": "début",
    "arrivals": "arrivées",
    "arrivals_from_colleague": "d'un confrère",
    "departures": "départs",
    "departures_to_colleague": "vers un confrère",
    "deaths": "décès",
    "net_change": "solde",
    "panel_end": "fin",
}


# -- care gaps, one row per gap (``gaps --par-action``) ----------------------------------------------------------

GAP_HEADERS = {
    "family_name": "nom",
    "given_names": "prénoms",
    "birth_date": "né(e) le",
    "phone": "téléphone",
    "person_id": "pseudonyme",
    "age": "âge",
    "sex": "sexe",
    "mt_name": "médecin traitant",
    "mt_rpps": "RPPS du médecin traitant",
    "label": "indicateur",
    "measure_id": "code",
    "action": "action",
    "evidence_date": "dernier acte",
    "due_since": "à faire depuis",
    "done_since": "fait depuis",
}


def gap_table(frame: pd.DataFrame, measures: Mapping[str, Scored], names: Mapping[str, str] | None) -> pd.DataFrame:
    """Care gaps, one row per gap, as the French CSV writes them: the indicator's label beside its code, the
    doctor's name beside the RPPS (``names``, for the care team), dates dd/mm/yyyy, French headers."""
    out = frame.assign(label=[measures[m].short_label if m in measures else m for m in frame.measure_id])
    if names is not None and "mt_rpps" in out:
        out = out.assign(mt_name=out.mt_rpps.map(lambda r: names.get(str(r), "")))
    if "person_id" in out:
        out = out.assign(person_id=out.person_id.astype("string"))
    return french_frame(out, GAP_HEADERS)

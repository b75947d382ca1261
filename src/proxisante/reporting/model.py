"""The content of the activity and quality report, built once and rendered three times (PDF, XLSX, JSON).

Everything in this model has already passed disclosure control: a masked count is ``None`` with the
reason in ``Row.masked`` ("primary": a small count, "secondary": a complement hiding it), and every
value derived from a masked count (share, rate, interval) is ``None`` too. Renderers only lay the
model out; none of them reads the warehouse, so what the three formats show is the same by
construction. ``to_document`` is the JSON form described by ``docs/report-schema.json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = "1.0.0"
SCHEMA_ID = "https://proxisante.fr/schemas/report-1.0.0.json"  # an identifier, never fetched
REPORT_KIND = "activite-qualite"

Kind = Literal["text", "count", "share", "rate", "amount", "number"]
Masked = Literal["primary", "secondary"]


@dataclass(frozen=True)
class Column:
    """A column of a table: ``count`` columns are the ones disclosure control applies to."""

    key: str
    label: str
    kind: Kind


@dataclass
class Row:
    values: dict[str, Any]
    masked: dict[str, Masked] = field(default_factory=dict)


@dataclass
class Table:
    id: str
    title: str
    columns: list[Column]
    rows: list[Row]
    note: str = ""

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


@dataclass(frozen=True)
class Site:
    name: str
    finess: str
    structure_type: str


@dataclass(frozen=True)
class Structure:
    name: str
    sites: tuple[Site, ...]


@dataclass(frozen=True)
class PeriodInfo:
    label: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Disclosure:
    """The rule applied, as the reader needs it to read the masked cells."""

    threshold: int
    mask_zeros: bool
    primary_label: str
    secondary_label: str
    source: str


@dataclass(frozen=True)
class Objection:
    applied: bool
    text: str


@dataclass
class TrendPoint:
    period: str
    eligible: int | None
    numerator: int | None
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    reportable: bool
    masked: Masked | None


@dataclass
class Indicator:
    id: str
    label: str
    short_label: str
    group: str
    programme: list[str]
    scoring: str
    direction: str
    denominator: int | None
    exclusions: int | None
    numerator: int | None
    eligible: int | None
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    reportable: bool
    masked: Masked | None
    # Why each masked count is hidden: 'primary' if that count itself is small, else 'secondary'.
    masked_counts: dict[str, Masked]
    objective_intermediate: float | None
    objective_target: float | None
    status: str
    evolution: str
    trend: list[TrendPoint]


@dataclass(frozen=True)
class EconomicModel:
    key: str
    label: str
    revenue: float
    cost: float
    result: float
    margin: float | None
    result_p5: float
    result_p95: float
    probability_positive: float


@dataclass
class Economics:
    """The economic summary: present only when the structure's real costs were given (``report --costs``)."""

    year: int
    costs_label: str
    costs_example: bool  # always False since the example costs are refused; kept for the JSON schema
    draws: int
    seed: int
    models: list[EconomicModel]
    note: str


@dataclass
class Report:
    structure: Structure
    period: PeriodInfo
    previous_periods: list[str]
    generated_at: dt.datetime
    disclosure: Disclosure
    objection: Objection
    panel: list[Table]
    activity: list[Table]
    indicators: list[Indicator]
    economics: Economics | None
    notes: list[str]
    schema_version: str = SCHEMA_VERSION

    @property
    def title(self) -> str:
        return f"Rapport d'activité et de qualité — {self.structure.name} — {self.period.label}"

    def tables(self) -> list[Table]:
        return [*self.panel, *self.activity]

    def mask_label(self, reason: str) -> str:
        """What a reader sees in place of a masked count: "< 10" or "secret"."""
        return self.disclosure.primary_label if reason == "primary" else self.disclosure.secondary_label


def to_document(report: Report) -> dict[str, Any]:
    """The report as the JSON document of ``docs/report-schema.json`` (dates in ISO 8601)."""
    doc: dict[str, Any] = {
        "$schema": SCHEMA_ID,
        "schema_version": report.schema_version,
        "kind": REPORT_KIND,
        "title": report.title,
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "structure": _plain(report.structure),
        "period": _plain(report.period),
        "previous_periods": list(report.previous_periods),
        "disclosure": _plain(report.disclosure),
        "objection": _plain(report.objection),
        "panel": [_table(t) for t in report.panel],
        "activity": [_table(t) for t in report.activity],
        "indicators": [_plain(i) for i in report.indicators],
        "economics": _plain(report.economics) if report.economics is not None else None,
        "notes": list(report.notes),
    }
    return doc


def _table(table: Table) -> dict[str, Any]:
    return {
        "id": table.id,
        "title": table.title,
        "note": table.note,
        "columns": [dataclasses.asdict(c) for c in table.columns],
        "rows": [{"values": _plain(r.values), "masked": dict(r.masked)} for r in table.rows],
    }


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value

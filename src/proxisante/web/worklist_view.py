"""The work list as the web pages serve it: the cached list of a scope, the filters of a request, the exports.

The list itself (one row per patient, every open action) is :mod:`proxisante.population.worklist`; it is
computed once per (scope, period, médecin traitant, with or without a médecin traitant) through
``Services.cached``, under the warehouse lock, since it takes seconds. Names are never cached: they are
joined per request from the identity vault, for the rows shown only, unless a search or a sort by name
asks for those of the whole filtered list (the vault logs that read, and the route audits it).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass, field

import pandas as pd
from fastapi import HTTPException
from openpyxl import Workbook

from proxisante import formats, spreadsheet
from proxisante.definitions import ParameterFile
from proxisante.measures.periods import Period
from proxisante.population import worklist
from proxisante.web.services import Services

PARAMETERS = ParameterFile("proxisante.population", "worklist.yaml")
DUE_CHOICES = {"retard": worklist.OVERDUE, "mois": worklist.THIS_MONTH, "fait": worklist.DONE}


def data_end(svc: Services) -> dt.date | None:
    """The date of the last data of the scope (``Services.last_data``, cached per load)."""
    return svc.last_data()


def default_period(svc: Services) -> Period:
    """12 months ending on the last data of the scope."""
    return svc.worklist_period()


def patients(svc: Services, period: Period, provider: str | None, without_mt: bool) -> pd.DataFrame:
    """The work list of the scope (pseudonymised; ``Services.worklist``)."""
    return svc.worklist(period, provider, without_mt)


def sites(svc: Services) -> dict[int, str]:
    return svc.cached("worklist_sites", (), lambda: worklist.sites(svc.warehouse))


@dataclass
class Filters:
    """What a request asks of the list: the filters, a search, a sort and a page (all optional)."""

    indicateur: str = ""
    echeance: str = ""
    age: str = ""
    risque: str = ""
    site: int | None = None
    q: str = ""
    tri: str = "echeance"
    ordre: str = "asc"
    page: int = 1
    extra: dict[str, str] = field(default_factory=dict)

    def query(self, **changes: object) -> dict[str, str]:
        """The query string of this view with ``changes`` (for the pager, the sort links and the exports)."""
        values: dict[str, object] = {
            "indicateur": self.indicateur,
            "echeance": self.echeance,
            "age": self.age,
            "risque": self.risque,
            "site": "" if self.site is None else self.site,
            "q": self.q,
            "tri": self.tri,
            "ordre": self.ordre,
            "page": self.page,
            **self.extra,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}

    @property
    def needs_names(self) -> bool:
        """A search or a sort by name reads the names of the whole filtered list."""
        return bool(self.q.strip()) or self.tri == "nom"


def filtered(frame: pd.DataFrame, chosen: Filters) -> pd.DataFrame:
    """The rows of every filter but the search (which needs the names)."""
    return worklist.select(
        frame,
        measure_id=chosen.indicateur or None,
        due=DUE_CHOICES.get(chosen.echeance),
        age_band=chosen.age or None,
        risk_level=chosen.risque or None,
        care_site_id=chosen.site,
    )


def sorted_rows(frame: pd.DataFrame, chosen: Filters) -> pd.DataFrame:
    return worklist.order(frame, chosen.tri, chosen.ordre == "desc")


def page_rows() -> int:
    return int(PARAMETERS.value("page_rows"))


def print_rows() -> int:
    return int(PARAMETERS.value("print_rows"))


def export_name(period: Period, extension: str, without_mt: bool) -> str:
    stem = "liste-de-travail-sans-medecin-traitant" if without_mt else "liste-de-travail"
    return f"{stem}-{period.label}.{extension}".replace(":", "-")


def csv_bytes(named: pd.DataFrame, names: dict[str, str]) -> bytes:
    """The French CSV of the list (BOM for Excel, ``;``, French dates and headers)."""
    return ("\ufeff" + formats.csv_text(worklist.export_frame(named, names))).encode("utf-8")


def xlsx_bytes(named: pd.DataFrame, names: dict[str, str], title: str) -> bytes:
    """The list as a workbook: a title row, the French headers, one row per patient."""
    frame = worklist.export_frame(named, names)
    book = Workbook()
    sheet = book.active
    sheet.title = "Liste de travail"
    sheet.cell(1, 1, title)
    spreadsheet.write_header(sheet, list(frame.columns), row=2, freeze="A3")
    for row in frame.itertuples(index=False):
        sheet.append([None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in row])
    spreadsheet.set_widths(sheet, [18, 18, 11, 14, 6, 22, 12, 8, 11, 12, 80, 50, 20])
    buffer = io.BytesIO()
    spreadsheet.save_workbook(book, buffer)
    return buffer.getvalue()


def blank(value: object) -> str:
    """A value as a page shows it: empty for a missing one (None, NaN, NaT, pd.NA), never "nan"."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    return str(value)


def check_known_patient(svc: Services, person_id: int) -> None:
    """404 « patient inconnu » for a pseudonym of no person of the warehouse, before any name is asked of the
    vault (a scope over a part of the network keeps its 403 for another structure's patient:
    ``access.check_own_patient``)."""
    if svc.scope.is_network and int(person_id) not in svc.persons():
        raise HTTPException(404, f"patient inconnu : {person_id}")


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The work list as JSON rows: dates in ISO, each action a dict, pseudonyms as text."""

    def plain(value: object) -> object:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, worklist.Item):
            return {k: plain(v) for k, v in asdict(value).items()}
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return None if not isinstance(value, str) and bool(pd.isna(value)) else value

    rows = []
    for row in frame.to_dict("records"):
        out = {k: plain(v) for k, v in row.items()}
        out["person_id"] = str(row["person_id"])
        rows.append(out)
    return rows

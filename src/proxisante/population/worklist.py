"""The work list of a care team: one row per patient with every action due, "who needs what, this week".

The care gaps (:mod:`proxisante.measures.gaps`) are one row per (indicator, patient); a phoning
campaign needs one row per patient with all the things to do. :func:`work_list` folds the gaps of the
actionable indicators into that, with the oldest date an action is due since, the actions closed since
the period's end ("fait le ..."), and the patient's risk level and site for the filters.

The default period is the 12 months ending on the date of the last data (:func:`data_end`), not the
last calendar year: a list read in June 2026 is the state of June 2026. Every page and command that
needs "the last date of the data" asks :func:`data_end`.

Everything here is pseudonymised (``person_id``); names are joined by the web and the CLI through the
identity vault (``gaps.nominative``), which logs each read. :func:`search` and :func:`order` take the
list with names joined.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from proxisante.measures.definition import library
from proxisante.measures.periods import Period, last_data_date, rolling
from proxisante.population.patientele import Patientele
from proxisante.warehouse.tables import Tables

WORKLIST_COLUMNS = (
    "person_id",
    "mt_rpps",
    "care_site_id",
    "age",
    "age_band",
    "sex",
    "risk_level",
    "n_actions",
    "due_since",
    "urgency",
    "measure_ids",
    "items",
)
OVERDUE, THIS_MONTH, DONE = "en retard", "ce mois-ci", "fait"
URGENCIES = (OVERDUE, THIS_MONTH, DONE)
SORTS = ("echeance", "nom", "age", "actions", "risque")


@dataclass(frozen=True)
class Item:
    """One action of a patient's row: the indicator, what to do, since when, and when done since."""

    measure_id: str
    label: str
    action: str
    evidence_date: dt.date | None
    due_since: dt.date
    done_since: dt.date | None


def data_end(warehouse: Tables, today: dt.date | None = None) -> dt.date | None:
    """The date of the last data (``periods.last_data_date``: the latest dated event, never after today)."""
    return last_data_date(warehouse, today)


def default_period(warehouse: Tables, today: dt.date | None = None) -> Period:
    """The work list's default period: the 12 months ending on the date of the last data (on ``today``
    for an empty warehouse)."""
    return period_ending(data_end(warehouse, today), today)


def period_ending(last: dt.date | None, today: dt.date | None = None) -> Period:
    """The 12 months ending on ``last``, the date of the last data (on ``today`` without data)."""
    return rolling(last or today or dt.date.today())


def risk_levels(warehouse: Tables, on: dt.date) -> dict[int, str]:
    """The risk level of each patient of the patientèle médecin traitant on ``on`` (population.risk)."""
    with Patientele(warehouse, on) as patientele:
        table = patientele.risk_table
        frame = warehouse.execute(table.select("person_id", "level"))
    return {int(p): str(level) for p, level in zip(frame.person_id, frame.level, strict=True)}


def sites(warehouse: Tables) -> dict[int, str]:
    """The name of each site (care_site) of the structure, for the site filter."""
    table = warehouse.table("care_site")
    frame = warehouse.execute(table.select("care_site_id", "care_site_name"))
    return {
        int(i): str(n) if pd.notna(n) else f"site {i}"
        for i, n in zip(frame.care_site_id, frame.care_site_name, strict=True)
        if pd.notna(i)
    }


def urgency(due: dt.date | None, reference: dt.date) -> str:
    """ "en retard" when due before the reference date's month, "ce mois-ci" within it, "fait" without
    any open action (``due`` None)."""
    if due is None:
        return DONE
    return OVERDUE if due < reference.replace(day=1) else THIS_MONTH


def work_list(
    gaps: pd.DataFrame,
    reference: dt.date,
    risk: dict[int, str] | None = None,
    done_since: Iterable[dt.date | None] | None = None,
) -> pd.DataFrame:
    """One row per patient of ``gaps`` (``care_gaps``), most urgent first: the open actions (``n_actions``, one
    per action text), the oldest date one is due since, ``urgency`` on ``reference``, the indicators of the open
    actions (``measure_ids``) and every action as an :class:`Item` (those closed since the period carry their
    date). ``risk``: levels by person (``risk_levels``)."""
    if gaps.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in WORKLIST_COLUMNS})
    known = library()
    done = list(done_since) if done_since is not None else [None] * len(gaps)
    frame = gaps.assign(done_since=done)
    rows = []
    for person_id, group in frame.groupby("person_id", sort=False):
        items = tuple(
            Item(
                str(r.measure_id),
                known[str(r.measure_id)].short_label if str(r.measure_id) in known else str(r.measure_id),
                str(r.action),
                _day(r.evidence_date),
                r.due_since,
                _day(r.done_since),
            )
            for r in group.sort_values(["due_since", "measure_id"]).itertuples()
        )
        open_items = [i for i in items if i.done_since is None]
        measure_ids = tuple(i.measure_id for i in open_items)
        items = _one_per_action(items)
        open_items = [i for i in items if i.done_since is None]
        due = min((i.due_since for i in open_items), default=None)
        first = group.iloc[0]
        rows.append(
            {
                "person_id": int(person_id),
                "mt_rpps": None if pd.isna(first.mt_rpps) else str(first.mt_rpps),
                "care_site_id": None if pd.isna(first.care_site_id) else int(first.care_site_id),
                "age": int(first.age),
                "age_band": str(first.age_band),
                "sex": str(first.sex),
                "risk_level": (risk or {}).get(int(person_id), ""),
                "n_actions": len(open_items),
                "due_since": due,
                "urgency": urgency(due, reference),
                "measure_ids": measure_ids,
                "items": items,
            }
        )
    return order(pd.DataFrame(rows, columns=list(WORKLIST_COLUMNS)), "echeance")


def _one_per_action(items: tuple[Item, ...]) -> tuple[Item, ...]:
    """One item per action text: two indicators asking the same thing (the pneumococcal vaccine of the 65+
    and of the patients at risk) are one thing to do, due since the older date; an action still open for
    one indicator is open."""
    kept: dict[str, Item] = {}
    for item in items:  # oldest due first
        seen = kept.get(item.action)
        if seen is None or (seen.done_since is not None and item.done_since is None):
            kept[item.action] = item
    return tuple(kept.values())


def _day(value: object) -> dt.date | None:
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return None
    return value if isinstance(value, dt.date) else pd.Timestamp(value).date()


def select(
    frame: pd.DataFrame,
    *,
    measure_id: str | None = None,
    due: str | None = None,
    age_band: str | None = None,
    risk_level: str | None = None,
    care_site_id: int | None = None,
) -> pd.DataFrame:
    """The rows matching every filter given (an indicator among the patient's open actions, an urgency, an
    age band, a risk level, a site)."""
    keep = pd.Series(True, index=frame.index)
    if measure_id:
        keep &= frame.measure_ids.map(lambda ids: measure_id in ids)
    if due:
        keep &= frame.urgency == due
    if age_band:
        keep &= frame.age_band == age_band
    if risk_level:
        keep &= frame.risk_level == risk_level
    if care_site_id is not None:
        keep &= frame.care_site_id == care_site_id
    return frame[keep]


def _folded(text: object) -> str:
    """Lower case without accents: "Hélène" is found by "helene"."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search(named: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows whose family or given names contain every word of ``text`` (case and accents aside)."""
    words = _folded(text).split()
    if not words:
        return named
    haystack = (named.family_name.map(_folded) + " " + named.given_names.map(_folded)).fillna("")
    keep = pd.Series(True, index=named.index)
    for word in words:
        keep &= haystack.str.contains(word, regex=False)
    return named[keep]


def order(frame: pd.DataFrame, key: str, descending: bool = False) -> pd.DataFrame:
    """Sorted by ``key`` (one of ``SORTS``): échéance (oldest due first, patients all done last), nom (needs
    the names joined), âge, actions (number of open actions), risque (level order of the parameters). Ties
    by pseudonym, so that pages never overlap."""
    if key not in SORTS:
        raise ValueError(f"tri inconnu : {key!r} (attendu {', '.join(SORTS)})")
    if frame.empty:
        return frame
    if key == "echeance":
        far = dt.date.max
        value = frame.due_since.map(lambda d: far if d is None or pd.isna(d) else d)
    elif key == "nom":
        value = (frame.family_name.map(_folded) + " " + frame.given_names.map(_folded)).fillna("")
    elif key == "age":
        value = frame.age
    elif key == "actions":
        value = frame.n_actions
    else:
        from proxisante.population.risk import levels

        rank = {name: i for i, name in enumerate(levels())}
        value = frame.risk_level.map(lambda level: rank.get(level, -1))
    keyed = frame.assign(_key=value.to_numpy(), _pid=frame.person_id)
    keyed = keyed.sort_values(["_key", "_pid"], ascending=[not descending, True], kind="stable")
    return keyed.drop(columns=["_key", "_pid"]).reset_index(drop=True)


def page(frame: pd.DataFrame, number: int, size: int) -> tuple[pd.DataFrame, int]:
    """Page ``number`` (from 1, clamped to the last) of ``size`` rows, and the number of pages."""
    pages = max(1, -(-len(frame) // size))
    number = min(max(1, number), pages)
    return frame.iloc[(number - 1) * size : number * size], pages


def export_frame(named: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The work list as a care team's spreadsheet: French headers, French dates, one row per patient, the
    actions joined ("; ") with their date; never "nan" (an unknown value is an empty cell). Without the
    names joined (a pseudonymised list) the name columns are empty."""
    from proxisante import formats

    def text(value: object) -> str:
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)

    def actions(items: tuple[Item, ...], done: bool) -> str:
        chosen = [i for i in items if (i.done_since is not None) == done]
        if done:
            return " ; ".join(f"{i.label} : fait le {formats.date(i.done_since)}" for i in chosen)
        return " ; ".join(f"{i.action} (depuis le {formats.date(i.due_since)})" for i in chosen)

    doctors = names or {}
    blank = pd.Series([None] * len(named), index=named.index, dtype="object")

    def column(name: str) -> pd.Series:  # a list without names has none of their columns
        return named.get(name, blank)

    return pd.DataFrame(
        {
            "nom": column("family_name").map(text),
            "prénoms": column("given_names").map(text),
            "né(e) le": column("birth_date").map(lambda d: formats.date(d) if text(d) else ""),
            "téléphone": column("phone").map(text),
            "âge": named.age.astype("Int64"),
            "médecin traitant": named.mt_rpps.map(lambda r: doctors.get(text(r), text(r))),
            "niveau de risque": named.risk_level.map(text),
            "actions à mener": named.n_actions.astype("Int64"),
            "échéance": named.urgency.map(text),
            "à faire depuis": named.due_since.map(lambda d: formats.date(d) if text(d) else ""),
            "actions": named["items"].map(lambda items: actions(items, False)),
            "fait depuis la période": named["items"].map(lambda items: actions(items, True)),
            "pseudonyme": named.person_id.astype("string"),
        }
    )

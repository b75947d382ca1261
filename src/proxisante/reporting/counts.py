"""What the report reads from the warehouse besides the measures and the patientèle: the structure,
its activity (acts, contacts) over the period, and a view of the warehouse without some persons.

Every query is Ibis and returns counts only; patients who objected are left out of every count by an
anti-join on their pseudonymised ``person_id``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from proxisante.measures.periods import Period
from proxisante.reporting.model import Site, Structure
from proxisante.vocab import mapping
from proxisante.warehouse.tables import Tables

UNKNOWN_PROFESSION = "(inconnue)"


class WithoutPersons:
    """A warehouse whose tables hold no row of the given persons: for domain functions that take no exclusion.

    Every table with a ``person_id`` column is filtered; the rest (providers, sites, concepts) is
    unchanged. Only ``table`` differs from the wrapped warehouse, so any engine reading the warehouse
    through ``table`` and ``execute`` (a :class:`~proxisante.warehouse.tables.Tables`, as the economic
    profile does) sees the objecting patients nowhere.
    """

    def __init__(self, warehouse: Tables, person_ids: Iterable[int]) -> None:
        self._warehouse = warehouse
        self._excluded = sorted(set(person_ids))

    def table(self, name: str) -> ir.Table:
        table = self._warehouse.table(name)
        if self._excluded and "person_id" in table.columns:
            return table.filter(~table.person_id.isin(self._excluded))
        return table

    def execute(self, expr: ir.Expr) -> Any:
        return self._warehouse.execute(expr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._warehouse, name)


def structure(warehouse: Tables) -> Structure:
    """The structure's sites (name, FINESS, kind) from ``care_site`` and ``fr_care_site``."""
    site = warehouse.table("care_site").select("care_site_id", "care_site_name")
    french = warehouse.table("fr_care_site").select("care_site_id", "finess", "structure_type")
    frame = warehouse.execute(site.left_join(french, "care_site_id").order_by("care_site_name"))
    sites = tuple(
        Site(str(r.care_site_name or "Site"), str(r.finess or ""), str(r.structure_type or ""))
        for r in frame.itertuples()
    )
    if not sites:
        return Structure("Structure", ())
    kinds = mapping("structure_type", "label_fr")
    first = sites[0]
    name = first.name if len(sites) == 1 else f"{kinds.get(first.structure_type, 'Structure')} ({len(sites)} sites)"
    return Structure(name, sites)


def _in_period(table: ir.Table, column: str, period: Period) -> ir.Table:
    return table.filter(table[column] >= period.start, table[column] <= period.end)


def _professions(warehouse: Tables) -> ir.Table:
    activity = warehouse.table("fr_provider_activity")
    return activity.select(activity_provider=activity.provider_id, profession=activity.profession)


def _without(table: ir.Table, excluded: list[int]) -> ir.Table:
    return table.filter(~table.person_id.isin(excluded)) if excluded else table


def acts(warehouse: Tables, period: Period, excluded: Iterable[int] = ()) -> pd.DataFrame:
    """Acts of the period by profession and code: ``profession``, ``code``, ``acts``.

    One act is the payer rows of one code on one visit for one person (as the economic profile
    counts them), so that the AMO and AMC rows of a consultation make one act.
    """
    billed = _without(_in_period(warehouse.table("fr_billed_act"), "act_date", period), sorted(set(excluded)))
    one = billed.group_by("person_id", "provider_id", "visit_occurrence_id", "act_date", "code").agg(
        rows=billed.count()
    )
    professions = _professions(warehouse)
    joined = one.left_join(professions, one.provider_id == professions.activity_provider)
    joined = joined.mutate(profession=joined.profession.fill_null(UNKNOWN_PROFESSION))
    frame = warehouse.execute(joined.group_by("profession", "code").agg(acts=joined.count()))
    frame["acts"] = frame.acts.astype("int64")
    return frame.sort_values(["profession", "code"]).reset_index(drop=True)


def contacts(warehouse: Tables, period: Period, excluded: Iterable[int] = ()) -> tuple[pd.DataFrame, dict]:
    """Contacts (``visit_occurrence`` rows) and distinct patients of the period by profession, and
    the structure's totals (distinct patients over all professions, all contacts)."""
    visits = _in_period(warehouse.table("visit_occurrence"), "visit_start_date", period)
    visits = _without(visits, sorted(set(excluded)))
    professions = _professions(warehouse)
    joined = visits.left_join(professions, visits.provider_id == professions.activity_provider)
    joined = joined.mutate(profession=joined.profession.fill_null(UNKNOWN_PROFESSION))
    grouped = joined.group_by("profession").agg(contacts=joined.count(), patients=joined.person_id.nunique())
    frame = warehouse.execute(grouped).sort_values("profession").reset_index(drop=True)
    totals = warehouse.execute(visits.aggregate(contacts=visits.count(), patients=visits.person_id.nunique()))
    for column in ("contacts", "patients"):
        frame[column] = frame[column].astype("int64")
    total = {c: int(totals[c].iloc[0] or 0) for c in ("contacts", "patients")}
    return frame, total

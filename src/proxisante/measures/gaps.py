"""Care gaps (écarts de soins): for each patient, the measures they should meet and do not, and what to do.

A gap is a person in a measure's denominator, not excluded, and not in its numerator (or, for a
lower-is-better measure, in it: the numerator is the problem). It carries the measure's action
("Prescrire un dosage d'HbA1c") and the date it became due: the last qualifying event plus the
numerator's look-back window divided by the number of events it asks for (a mammography of
2023-03-01 with a two-year window is due since 2025-03-01; "two HbA1c a year" after one on
2025-05-24 is due since 2025-11-23); with no qualifying event at all the date is empty ("jamais
réalisé"). This follows the idea of the Da Vinci DEQM ``$care-gaps`` report, computed set-based for
every patient at once.

The list holds pseudonymised ``person_id`` only; :func:`nominative` resolves names through the
identity vault, which logs who read which list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import ibis
import pandas as pd

from proxisante.identity.vault import IdentityVault
from proxisante.measures.context import Context
from proxisante.measures.definition import Criterion, Measure, Window, library
from proxisante.measures.periods import Period
from proxisante.measures.results import per_person
from proxisante.warehouse.tables import Tables

GAP_COLUMNS = ("measure_id", "person_id", "mt_rpps", "age", "sex", "action", "evidence_date", "due_since")


def gap_table(measure: Measure, context: Context, period: Period):
    """The Ibis table of one measure's gaps: person, médecin traitant, last evidence."""
    table = per_person(measure, context, period, history=not measure.gap_when_met)
    eligible = table.in_denominator & ~table.in_exclusions
    gap = eligible & (table.in_numerator if measure.gap_when_met else ~table.in_numerator)
    return table.filter(gap).select(
        measure_id=ibis.literal(measure.id),
        person_id=table.person_id,
        mt_rpps=table.mt_rpps,
        age=table.age,
        sex=table.sex,
        evidence_date=table.evidence_date,
    )


def care_gaps(
    warehouse: Tables,
    period: Period,
    measures: Iterable[Measure] | None = None,
    *,
    provider_rpps: str | None = None,
    person_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Every care gap of the period, in one query: a row per (measure, person)."""
    chosen = list(measures or library().values())
    context = Context(warehouse, period.end)
    tables = [gap_table(m, context, period) for m in chosen]
    union = ibis.union(*tables) if len(tables) > 1 else tables[0]
    if provider_rpps is not None:
        union = union.filter(union.mt_rpps == provider_rpps)
    if person_ids is not None:
        union = union.filter(union.person_id.isin([int(p) for p in person_ids]))
    try:
        frame = warehouse.execute(union.order_by(["measure_id", "person_id"]))
    finally:
        context.release()
    by_id = {m.id: m for m in chosen}
    frame["action"] = frame.measure_id.map(lambda m: by_id[m].action)
    frame["evidence_date"] = pd.to_datetime(frame.evidence_date).dt.date
    frame["due_since"] = [
        due_since(by_id[m], e, period) for m, e in zip(frame.measure_id, frame.evidence_date, strict=True)
    ]
    return frame[list(GAP_COLUMNS)].reset_index(drop=True)


def due_since(measure: Measure, evidence: dt.date | None, period: Period) -> dt.date | None:
    """When the action became due: last evidence + window ÷ min_count (lower-is-better: the evidence)."""
    if evidence is None or pd.isna(evidence):
        return None
    if measure.gap_when_met:
        return evidence
    criterion = measure.numerator[0]
    window = _numerator_window(criterion, period)
    if window is None:
        return None
    if criterion.min_count == 1:
        return window.end_after(evidence)
    length = (window.end_after(evidence) - evidence).days
    return evidence + dt.timedelta(days=length // criterion.min_count)


def _numerator_window(criterion: Criterion, period: Period) -> Window | None:
    if criterion.ever:
        return None
    if criterion.within is not None:
        return criterion.within
    if criterion.children:
        return _numerator_window(criterion.children[0], period)
    return period.window


def nominative(gaps: pd.DataFrame, vault: IdentityVault, *, reader: str, list_name: str) -> pd.DataFrame:
    """The care team's nominative list: names, birth date and phone joined from the identity vault.

    The vault writes the read to its access log (who, when, which list, which persons) before
    returning anything.
    """
    ids = sorted({int(p) for p in gaps.person_id})
    identities = vault.lookup(ids, reader=reader, purpose=f"liste nominative: {list_name}").to_pandas()
    columns = ["person_id", "family_name", "given_names", "birth_date", "phone"]
    return gaps.merge(identities[columns], on="person_id", how="left")

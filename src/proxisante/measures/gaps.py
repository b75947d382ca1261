"""Care gaps (écarts de soins): for each patient, the measures they should meet and do not, and what to do.

A gap is a person in a measure's denominator, not excluded, and not in its numerator (or, for a
lower-is-better measure, in it: the numerator is the problem). It carries the measure's action
("Prescrire un dosage d'HbA1c") and the date it became due (:func:`gap_due`): the last qualifying
event plus the numerator's look-back window divided by the number of events it asks for (a
mammography of 2023-03-01 with a two-year window is due since 2025-03-01; "two HbA1c a year" after
one on 2025-05-24 is due since 2025-11-23). A gap is a fact at the period's end, so its date is never
after it (one HbA1c on 2025-10-18 makes the second due on 2026-04-18, but at 31/12/2025 it is
already missing: due since 31/12/2025), and never empty: with no qualifying event at all ("jamais
réalisé") it is due at least since the numerator's window opened. This follows the idea of the Da
Vinci DEQM ``$care-gaps`` report, computed set-based for every patient at once.

:func:`closed_since` tells which gaps of a past period were closed later (the test done since),
so that a list of 2025 read in June 2026 says "fait le ...".

The list holds pseudonymised ``person_id`` only; :func:`nominative` resolves names through the
identity vault, which logs who read which list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

import ibis
import pandas as pd

from proxisante.identity.vault import IdentityVault
from proxisante.measures.context import Context
from proxisante.measures.definition import Criterion, Measure, Window, library
from proxisante.measures.periods import Period
from proxisante.measures.results import per_person
from proxisante.warehouse.tables import Tables

GAP_COLUMNS = (
    "measure_id",
    "person_id",
    "mt_rpps",
    "care_site_id",
    "age",
    "age_band",
    "sex",
    "action",
    "evidence_date",
    "due_since",
)


def actionable_measures() -> list[Measure]:
    """The measures whose gaps are something to do for the patient (``actionable`` in their YAML)."""
    return [m for m in library().values() if m.actionable]


def gap_table(measure: Measure, context: Context, period: Period, *, without_mt: bool = False):
    """The Ibis table of one measure's gaps: person, médecin traitant, last evidence.

    ``without_mt``: the patients seen without a médecin traitant, whom a measure of the patientèle
    médecin traitant leaves out; they are counted among the patients seen instead."""
    if without_mt and measure.population == "patientele_mt":
        measure = measure.model_copy(update={"population": "seen"})
    table = per_person(measure, context, period, history=not measure.gap_when_met)
    eligible = table.in_denominator & ~table.in_exclusions
    gap = eligible & (table.in_numerator if measure.gap_when_met else ~table.in_numerator)
    if without_mt:
        gap = gap & table.mt_provider_id.isnull()
    return table.filter(gap).select(
        measure_id=ibis.literal(measure.id),
        person_id=table.person_id,
        mt_rpps=table.mt_rpps,
        care_site_id=table.care_site_id,
        age=table.age,
        age_band=table.age_band,
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
    without_mt: bool = False,
) -> pd.DataFrame:
    """Every care gap of the period, in one query: a row per (measure, person). ``without_mt``: the gaps
    of the patients seen without a médecin traitant (``gap_table``)."""
    chosen = list(measures or library().values())
    context = Context(warehouse, period.end)
    tables = [gap_table(m, context, period, without_mt=without_mt) for m in chosen]
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
    frame["evidence_date"] = [None if pd.isna(e) else e for e in frame.evidence_date]
    frame["due_since"] = [
        gap_due(by_id[m], e, period) for m, e in zip(frame.measure_id, frame.evidence_date, strict=True)
    ]
    frame["mt_rpps"] = frame.mt_rpps.astype("string")
    frame["care_site_id"] = frame.care_site_id.astype("Int64")
    return frame[list(GAP_COLUMNS)].reset_index(drop=True)


def gap_due(measure: Measure, evidence: dt.date | None, period: Period) -> dt.date:
    """The date a gap is due since, as the list shows it: never empty, never after the period's end.

    With evidence, :func:`due_since` (capped at the period's end: the gap is a fact on that day); without
    any, the day the numerator's look-back window opened (the measure's window for a criterion of ``ever``)."""
    due = due_since(measure, evidence, period)
    if due is None:
        default = period.window_for(measure)
        window = _numerator_window(measure.numerator[0], default) or default
        due = window.start(period.end)
    return min(due, period.end)


def due_since(measure: Measure, evidence: dt.date | None, period: Period) -> dt.date | None:
    """When the action became due: last evidence + window ÷ min_count (lower-is-better: the evidence)."""
    if evidence is None or pd.isna(evidence):
        return None
    if measure.gap_when_met:
        return evidence
    criterion = measure.numerator[0]
    window = _numerator_window(criterion, period.window_for(measure))
    if window is None:
        return None
    if criterion.min_count == 1:
        return window.end_after(evidence)
    length = (window.end_after(evidence) - evidence).days
    return evidence + dt.timedelta(days=length // criterion.min_count)


def _numerator_window(criterion: Criterion, default: Window) -> Window | None:
    if criterion.ever:
        return None
    if criterion.within is not None:
        return criterion.within
    if criterion.children:
        return _numerator_window(criterion.children[0], default)
    return default


def nominative(gaps: pd.DataFrame, vault: IdentityVault, *, reader: str, list_name: str) -> pd.DataFrame:
    """The care team's nominative list: names, birth date and phone joined from the identity vault.

    The vault writes the read to its access log (who, when, which list, which persons) before
    returning anything.
    """
    ids = sorted({int(p) for p in gaps.person_id})
    identities = vault.lookup(ids, reader=reader, purpose=f"liste nominative: {list_name}").to_pandas()
    columns = ["person_id", "family_name", "given_names", "birth_date", "phone"]
    return gaps.merge(identities[columns], on="person_id", how="left")


def closed_since(
    warehouse: Tables, gaps: pd.DataFrame, period: Period, until: dt.date, *, without_mt: bool = False
) -> pd.Series:
    """For each gap of ``period``, the date of the act that closed it after the period's end (NaT-like None
    when still open): the measure is met on ``until`` (the same look-back, ending on ``until``), by an act
    after the period's end. Lower-is-better measures are never "closed" here (stopping a treatment has no date).

    One query for every measure; the persons are those of ``gaps`` only."""
    done: list[dt.date | None] = [None] * len(gaps)
    if until <= period.end or gaps.empty:
        return pd.Series(done, index=gaps.index, dtype="object")
    later = replace(
        period, label=f"{period.label}→{until.isoformat()}", start=until - (period.end - period.start), end=until
    )
    known = library()
    tables = []
    context = Context(warehouse, until)
    for measure_id, rows in gaps.groupby("measure_id"):
        measure = known.get(str(measure_id))
        if measure is None or measure.gap_when_met:
            continue
        if without_mt and measure.population == "patientele_mt":
            measure = measure.model_copy(update={"population": "seen"})
        table = per_person(measure, context, later)
        ids = sorted({int(p) for p in rows.person_id})
        met = table.in_denominator & ~table.in_exclusions & table.in_numerator
        met = met & (table.evidence_date > period.end) & table.person_id.isin(ids)
        tables.append(table.filter(met).select(measure_id=ibis.literal(measure.id), person_id=table.person_id,
                                               done=table.evidence_date))  # fmt: skip
    if not tables:
        return pd.Series(done, index=gaps.index, dtype="object")
    try:
        frame = warehouse.execute(ibis.union(*tables) if len(tables) > 1 else tables[0])
    finally:
        context.release()
    closed = {(str(m), int(p)): pd.Timestamp(d).date() for m, p, d in zip(frame.measure_id, frame.person_id,
                                                                          frame.done, strict=True)}  # fmt: skip
    done = [closed.get((str(m), int(p))) for m, p in zip(gaps.measure_id, gaps.person_id, strict=True)]
    return pd.Series(done, index=gaps.index, dtype="object")

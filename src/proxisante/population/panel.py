"""The patientèle médecin traitant and the patients seen: who they are, by age, sex, status and disease.

The patientèle médecin traitant of the structure on a reference date is the persons alive that day
whose médecin traitant declaration (``fr_mt_declaration``) is in force, as the measures'
``Context`` defines it (the latest declaration when several overlap); a médecin traitant's own
patientèle is the part declared to him or her. The patients seen are the persons with at least one
contact in the measures' ``seen_window``, with or without a médecin traitant in the structure:
those without one are the concern of the CPTS mission "accès aux soins".

The warehouse returns counts grouped at the finest level asked (médecin traitant × band × sex);
totals and shares are computed here on that small result, so that every engine only has integers
to agree on.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from proxisante.definitions import ParameterFile
from proxisante.disclosure import TOTAL
from proxisante.measures.context import Context
from proxisante.measures.definition import Window
from proxisante.population import registries as reg
from proxisante.warehouse import expr
from proxisante.warehouse.expr import count_true

PARAMETERS = ParameterFile(__package__)
MEASURE_PARAMETERS = ParameterFile("proxisante.measures")
SEXES = ("F", "M", "I")
STATUS = {"ald": "En ALD", "c2s": "Bénéficiaires de la C2S"}


# -- age bands ---------------------------------------------------------------------------------


def band_labels() -> list[str]:
    """Labels of the pyramid bands: ``0-4`` ... ``90-94``, ``95+``."""
    return expr.band_labels(PARAMETERS.value("pyramid_bands"))


def band(age: ir.IntegerValue) -> ir.StringValue:
    """The pyramid band of an age column, as one CASE every engine runs."""
    return expr.age_band(age, PARAMETERS.value("pyramid_bands"))


# -- per-person tables -------------------------------------------------------------------------


def patientele(context: Context) -> ir.Table:
    """One row per person of the patientèle médecin traitant on the reference date.

    Columns of ``Context.persons`` (person_id, birth_date, sex, commune, age, age_band, mt_provider_id,
    mt_rpps, care_site_id, c2s, ald) plus ``pyramid_band``. ``person_id`` is the keyed pseudonym.
    """
    persons = context.persons
    mt = persons.filter(persons.mt_provider_id.notnull())
    return mt.mutate(pyramid_band=band(mt.age))


def seen(context: Context) -> ir.Table:
    """One row per person alive on the reference date with a contact in the seen window.

    Adds ``has_mt`` (a médecin traitant of the structure is declared), ``contacts`` (distinct days
    of contact in the window), ``last_contact`` and ``pyramid_band`` to the columns of the context.
    """
    start = seen_window().start(context.reference_date)
    visit = context.table("visit_occurrence")
    visits = visit.filter(visit.visit_start_date >= start, visit.visit_start_date <= context.reference_date)
    contacts = visits.group_by("person_id").agg(
        contacts=visits.visit_start_date.nunique(), last_contact=visits.visit_start_date.max()
    )
    persons = context.persons.inner_join(contacts, "person_id")
    return persons.mutate(has_mt=persons.mt_provider_id.notnull(), pyramid_band=band(persons.age))


def seen_without_mt(context: Context) -> ir.Table:
    """The patients seen without a médecin traitant in the structure: pseudonymised ids, never names.

    The list a CPTS works from to offer a médecin traitant: band, sex, ALD, C2S, contacts and the
    date of the last one. Names are in the identity vault, behind its audited access.
    """
    table = seen(context)
    table = table.filter(~table.has_mt)
    return table.select("person_id", "pyramid_band", "sex", "ald", "c2s", "contacts", "last_contact").order_by(
        [ibis.desc("ald"), ibis.desc("last_contact"), "person_id"]
    )


def seen_window() -> Window:
    """The measures' "patients seen" window (24 months), shared so both agree."""
    return Window(**MEASURE_PARAMETERS.value("seen_window"))


# -- aggregated outputs ------------------------------------------------------------------------


def pyramid(context: Context, *, by_provider: bool = True) -> pd.DataFrame:
    """Age/sex pyramid of the patientèle: ``mt_rpps`` (``Total`` for the structure), ``age_band``,
    ``sex`` (F, M, I) and ``patients``; every band and sex is present, zeros included."""
    table = patientele(context)
    counted = table.group_by(["mt_rpps", "pyramid_band", "sex"]).agg(patients=table.person_id.count())
    frame = context.warehouse.execute(counted).rename(columns={"pyramid_band": "age_band"})
    frame["mt_rpps"] = frame.mt_rpps.astype("string").fillna("(inconnu)")
    providers = sorted(frame.mt_rpps.unique()) if by_provider else []
    grid = pd.MultiIndex.from_product([[TOTAL, *providers], band_labels(), SEXES], names=["mt_rpps", "age_band", "sex"])
    total = frame.groupby(["age_band", "sex"]).patients.sum().reset_index().assign(mt_rpps=TOTAL)
    both = pd.concat([total, frame] if by_provider else [total], ignore_index=True)
    out = both.set_index(["mt_rpps", "age_band", "sex"]).patients.reindex(grid, fill_value=0)
    return out.astype("int64").reset_index()


def composition(
    context: Context,
    registry_ids: Sequence[str] | None = None,
    *,
    by_provider: bool = True,
    registry_flags: ir.Table | None = None,
) -> pd.DataFrame:
    """Counts and shares of the patientèle: size, ALD, C2S, each chronic registry, and multimorbidity.

    One row per (``mt_rpps``, ``indicator``): ``label``, ``patients`` (with the trait),
    ``panel`` (patientèle size) and ``share`` (patients ÷ panel). ``mt_rpps`` is ``Total`` for the
    structure. ``registries_2plus`` counts the patients in two registries or more. ``registry_flags``
    (``registries.flags``, cached) saves compiling the registries again.
    """
    ids = list(registry_ids) if registry_ids is not None else list(reg.registries())
    table = patientele(context)
    if ids:
        table = reg.with_flags(table, context, ids, registry_flags)
    sums = {name: count_true(table[name]) for name in [*STATUS, *ids]}
    if ids:
        sums["registries_2plus"] = count_true(table.n_registries >= 2)
    counted = table.group_by("mt_rpps").agg(panel=table.person_id.count(), **sums)
    frame = context.warehouse.execute(counted)
    frame["mt_rpps"] = frame.mt_rpps.astype("string").fillna("(inconnu)")
    return _long_shares(frame, _labels(ids), by_provider)


def _labels(ids: Sequence[str]) -> dict[str, str]:
    labels = dict(STATUS)
    labels.update({i: reg.registry(i).label for i in ids})
    if ids:
        labels["registries_2plus"] = "Au moins deux maladies chroniques (registres)"
    return labels


def _long_shares(frame: pd.DataFrame, labels: dict[str, str], by_provider: bool) -> pd.DataFrame:
    columns = ["panel", *labels]
    total = frame[columns].sum().to_frame().T.assign(mt_rpps=TOTAL)
    wide = pd.concat([total, frame.sort_values("mt_rpps")] if by_provider else [total], ignore_index=True)
    long = wide.melt(id_vars=["mt_rpps", "panel"], value_vars=list(labels), var_name="indicator", value_name="patients")
    long["label"] = long.indicator.map(labels)
    long[["patients", "panel"]] = long[["patients", "panel"]].fillna(0).astype("int64")
    long["share"] = long.patients / long.panel.where(long.panel > 0)
    order = {name: i for i, name in enumerate(labels)}
    long = long.assign(_order=long.indicator.map(order), _total=long.mt_rpps != TOTAL)
    long = long.sort_values(["_total", "mt_rpps", "_order"]).drop(columns=["_order", "_total"])
    return long[["mt_rpps", "indicator", "label", "patients", "panel", "share"]].reset_index(drop=True)


def access(context: Context) -> pd.DataFrame:
    """Patients seen in the window, with and without a médecin traitant of the structure, by band.

    Columns: ``age_band`` (a ``Total`` row last), ``seen``, ``with_mt``, ``without_mt``,
    ``without_mt_ald``, ``without_mt_c2s`` and ``share_without_mt`` (without_mt ÷ seen).
    """
    table = seen(context)
    without = ~table.has_mt
    counted = table.group_by("pyramid_band").agg(
        seen=table.person_id.count(),
        with_mt=count_true(table.has_mt),
        without_mt=count_true(without),
        without_mt_ald=count_true(without & table.ald),
        without_mt_c2s=count_true(without & table.c2s),
    )
    frame = context.warehouse.execute(counted).rename(columns={"pyramid_band": "age_band"})
    counts = ["seen", "with_mt", "without_mt", "without_mt_ald", "without_mt_c2s"]
    frame = frame.set_index("age_band")[counts].reindex(band_labels(), fill_value=0).reset_index()
    frame = pd.concat([frame, frame[counts].sum().to_frame().T.assign(age_band=TOTAL)], ignore_index=True)
    frame[counts] = frame[counts].fillna(0).astype("int64")
    frame["share_without_mt"] = frame.without_mt / frame.seen.where(frame.seen > 0)
    return frame[["age_band", *counts, "share_without_mt"]]


def departed_mt(context: Context) -> pd.DataFrame:
    """Patients still declared to a médecin traitant whose activity in the structure ended before the date.

    Declarations are rarely closed when a doctor leaves (the Assurance maladie is notified of the new
    declaration, the EHR often is not): these patients count in the patientèle yet have no active
    médecin traitant here, the first ones to offer one. Columns: ``mt_rpps``, ``activity_end``,
    ``patients``, ``ald`` (of them in ALD); empty when every médecin traitant is active.
    """
    ref = context.reference_date
    activity = context.table("fr_provider_activity")
    ended = activity.filter(activity.end_date.notnull(), activity.end_date < ref)
    ended = ended.select(ended_provider=ended.provider_id, activity_end=ended.end_date)
    table = patientele(context)
    table = table.inner_join(ended, table.mt_provider_id == ended.ended_provider)
    counted = table.group_by(["mt_rpps", "activity_end"]).agg(
        patients=table.person_id.count(), ald=count_true(table.ald)
    )
    frame = context.warehouse.execute(counted)
    frame["activity_end"] = pd.to_datetime(frame["activity_end"]).dt.date
    return frame.sort_values(["activity_end", "mt_rpps"]).reset_index(drop=True)

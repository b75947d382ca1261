"""Risk levels of the patientèle: a transparent sum of points a GP can redo by hand, with its reasons.

Four factors, each turned into points by a stepped rule of ``population/parameters.yaml``:

- age (75 and over, 85 and over: the HAS notion of the older polypathological patient);
- the number of chronic registries the person is in (polypathologie from 2);
- polypharmacy: distinct ATC substances prescribed on at least 3 days of the last 12 months (IRDES
  "polymédication continue", 5 and 10);
- a hospital stay in the last 12 months (visits of the inpatient concepts 9201 and 262), only where
  the warehouse records hospital stays: the pivot format has none, and the demo data neither.

The sum of points gives the level (faible, modéré, élevé, très élevé). It is a triage aid for the
team (whom to discuss first), not a validated predictive score.
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
from proxisante.population.panel import patientele
from proxisante.population.steps import steps_case
from proxisante.warehouse.expr import count_true

PARAMETERS = ParameterFile(__package__)
FACTORS = ("age", "registries", "polypharmacy", "hospitalisation")


def levels() -> list[str]:
    """The level names, lowest first (``faible`` ... ``très élevé``)."""
    return [name for _, name in PARAMETERS.value("risk_levels")]


# -- factors -----------------------------------------------------------------------------------


def substance_concepts(context: Context) -> list[int]:
    """Concept ids of the warehouse's ATC substances (level 5, seven characters), vaccines excluded."""
    concept = context.table("concept")
    rows = concept.filter(concept.vocabulary_id == "ATC").select("concept_id", "concept_code")
    frame = context.warehouse.execute(rows)
    excluded = tuple(PARAMETERS.value("polypharmacy_excluded_atc"))
    return sorted(
        int(cid)
        for cid, code in zip(frame.concept_id, frame.concept_code, strict=True)
        if len(str(code)) == 7 and not str(code).startswith(excluded)
    )


def polypharmacy(context: Context) -> ir.Table:
    """``person_id`` and ``substances``: distinct ATC substances prescribed on at least
    ``polypharmacy_min_days`` distinct days of the polypharmacy window (persons with one or more)."""
    ref = context.reference_date
    start = Window(**PARAMETERS.value("polypharmacy_window")).start(ref)
    drug = context.table("drug_exposure")
    recent = drug.filter(
        drug.drug_exposure_start_date >= start,
        drug.drug_exposure_start_date <= ref,
        drug.drug_concept_id.isin(substance_concepts(context) or [-1]),
    )
    per_substance = recent.group_by(["person_id", "drug_concept_id"]).agg(
        days=recent.drug_exposure_start_date.nunique()
    )
    regular = per_substance.filter(per_substance.days >= PARAMETERS.value("polypharmacy_min_days"))
    return regular.group_by("person_id").agg(substances=regular.drug_concept_id.count())


def hospital_stays(context: Context) -> ir.Table:
    """``person_id`` and ``last_stay`` of the persons with a hospital stay starting in the window."""
    ref = context.reference_date
    start = Window(**PARAMETERS.value("hospitalisation_window")).start(ref)
    visit = context.table("visit_occurrence")
    stays = visit.filter(
        visit.visit_concept_id.isin(PARAMETERS.value("hospitalisation_visit_concepts")),
        visit.visit_start_date >= start,
        visit.visit_start_date <= ref,
    )
    return stays.group_by("person_id").agg(last_stay=stays.visit_start_date.max())


def hospital_stays_recorded(context: Context) -> bool:
    """Whether the warehouse holds any hospital stay at all: without, the factor is unknown, not zero."""
    visit = context.table("visit_occurrence")
    stays = visit.filter(visit.visit_concept_id.isin(PARAMETERS.value("hospitalisation_visit_concepts")))
    return int(context.warehouse.execute(stays.count())) > 0


# -- per person --------------------------------------------------------------------------------


def per_person(
    context: Context,
    base: ir.Table | None = None,
    registry_ids: Sequence[str] | None = None,
    registry_flags: ir.Table | None = None,
) -> ir.Table:
    """The factors, points, level and reasons of every person of ``base`` (default: the patientèle MT).

    Columns: person_id, mt_rpps, age, the registry flags, ``n_registries``, ``substances``,
    ``hospitalised``, ``points_<factor>`` for each factor, ``points``, ``level`` and ``reasons``
    (French, e.g. "âge 87 ans; 2 maladies chroniques (Diabète, HTA); polymédication (6 substances)").
    """
    ids = list(registry_ids) if registry_ids is not None else list(reg.registries())
    table = base if base is not None else patientele(context)
    table = reg.with_flags(table.select("person_id", "mt_rpps", "age"), context, ids, registry_flags)
    drugs = polypharmacy(context).rename(drug_person="person_id")
    stays = hospital_stays(context).rename(stay_person="person_id")
    table = table.left_join(drugs, table.person_id == drugs.drug_person).drop("drug_person")
    table = table.left_join(stays, table.person_id == stays.stay_person).drop("stay_person")
    table = table.mutate(substances=table.substances.fill_null(0), hospitalised=table.last_stay.notnull())
    table = table.mutate(
        points_age=steps_case(table.age, "risk_age_points", 0),
        points_registries=steps_case(table.n_registries, "risk_registry_points", 0),
        points_polypharmacy=steps_case(table.substances, "risk_polypharmacy_points", 0),
        points_hospitalisation=ibis.ifelse(table.hospitalised, PARAMETERS.value("risk_hospitalisation_points"), 0),
    )
    points = sum((table[f"points_{f}"] for f in FACTORS), ibis.literal(0)).cast("int64")
    table = table.mutate(points=points)
    return table.mutate(level=steps_case(table.points, "risk_levels", levels()[0]), reasons=_reasons(table, ids))


def _reasons(table: ir.Table, ids: Sequence[str]) -> ir.StringValue:
    """The factors that gave points, in French, separated by "; " (empty for none)."""
    names = _joined([(table[i], reg.registry(i).short_label) for i in ids])
    pieces = [
        ibis.ifelse(table.points_age > 0, "; âge " + table.age.cast("string") + " ans", ""),
        ibis.ifelse(
            table.points_registries > 0,
            "; "
            + table.n_registries.cast("string")
            + ibis.ifelse(table.n_registries == 1, " maladie chronique (", " maladies chroniques (")
            + names
            + ")",
            "",
        ),
        ibis.ifelse(
            table.points_polypharmacy > 0, "; polymédication (" + table.substances.cast("string") + " substances)", ""
        ),
        ibis.ifelse(table.points_hospitalisation > 0, "; hospitalisation récente", ""),
    ]
    return _concat(pieces).substr(2)


def _joined(items: list[tuple[ir.BooleanValue, str]]) -> ir.StringValue:
    """Labels of the true flags, separated by ", "."""
    return _concat([ibis.ifelse(flag, ", " + label, "") for flag, label in items]).substr(2)


def _concat(pieces: list[ir.StringValue]) -> ir.StringValue:
    result: ir.StringValue = ibis.literal("")
    for piece in pieces:
        result = result + piece
    return result


# -- counts ------------------------------------------------------------------------------------


def level_counts(context: Context, *, by_provider: bool = True, table: ir.Table | None = None) -> pd.DataFrame:
    """Patients of the patientèle by risk level: ``mt_rpps`` (``Total`` for the structure), ``level``,
    ``patients``, ``panel`` and ``share``; every level is present, zeros included. ``table`` is a
    ``per_person`` table already built (default: the patientèle MT)."""
    table = table if table is not None else per_person(context)
    counted = table.group_by(["mt_rpps", "level"]).agg(patients=table.person_id.count())
    frame = context.warehouse.execute(counted)
    frame["mt_rpps"] = frame.mt_rpps.astype("string").fillna("(inconnu)")
    total = frame.groupby("level").patients.sum().reset_index().assign(mt_rpps=TOTAL)
    providers = sorted(frame.mt_rpps.unique()) if by_provider else []
    grid = pd.MultiIndex.from_product([[TOTAL, *providers], levels()], names=["mt_rpps", "level"])
    both = pd.concat([total, frame] if by_provider else [total], ignore_index=True)
    out = both.set_index(["mt_rpps", "level"]).patients.reindex(grid, fill_value=0).astype("int64").reset_index()
    out["panel"] = out.groupby("mt_rpps").patients.transform("sum")
    out["share"] = out.patients / out.panel.where(out.panel > 0)
    return out


def factor_counts(context: Context, table: ir.Table | None = None) -> pd.DataFrame:
    """How many patients of the patientèle each factor gives points to (structure), and whether the
    factor is known: ``factor``, ``patients``, ``panel``, ``share``, ``recorded``."""
    table = table if table is not None else per_person(context)
    sums = {f: count_true(table[f"points_{f}"] > 0) for f in FACTORS}
    row = context.warehouse.execute(table.aggregate(panel=table.person_id.count(), **sums)).iloc[0]
    panel = int(row["panel"])
    frame = pd.DataFrame({"factor": list(FACTORS), "patients": [int(row[f] or 0) for f in FACTORS], "panel": panel})
    frame["share"] = frame.patients / panel if panel else float("nan")
    frame["recorded"] = [f != "hospitalisation" or hospital_stays_recorded(context) for f in FACTORS]
    return frame

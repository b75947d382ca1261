"""The profile of a centre read from its warehouse: Ibis queries over the tables, then the model's checks.

Every function takes a :class:`~proxisante.warehouse.tables.Tables`: the warehouse itself, or a view of it
without some persons (reporting's ``WithoutPersons``, the patients who objected). The result is checked by
the same model as a profile from a file (:func:`.profile.parse_profile`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container

import ibis
import ibis.expr.types as ir
import pandas as pd

from proxisante.economics.catalogue import parameter
from proxisante.economics.profile import Profile, age_bands, latest, parse_profile
from proxisante.measures.context import Context
from proxisante.measures.definition import Measure, Window, library
from proxisante.measures.periods import parse_period
from proxisante.measures.results import run
from proxisante.population.registries import members
from proxisante.vocab import codes
from proxisante.warehouse.expr import age_band, count_true
from proxisante.warehouse.tables import Tables


def profile_from_warehouse(
    warehouse: Tables, year: int, centre: str = "Centre (entrepôt)", measures: bool = True
) -> Profile:
    """The profile of the centre loaded in ``warehouse`` for a calendar year (panel on 31 December).

    With ``measures``, the ROSP and FMT measures of the library are run on the year
    (:func:`measure_lines`): the ROSP points and FMT prevention criteria then come from them.
    """
    reference = dt.date(year, 12, 31)
    context = Context(warehouse, reference)
    try:
        mt = _mt_patients(warehouse, context)
        panel = warehouse.execute(_panel(mt))
        communes = warehouse.execute(
            mt.filter(mt.commune.notnull()).group_by("commune").agg(patients=mt.person_id.count()).order_by("commune")
        )
        acts = warehouse.execute(_acts(warehouse, mt, year))
        staff = warehouse.execute(_staff(warehouse, reference))
        sites = warehouse.execute(_gp_sites(warehouse, reference))
    finally:
        context.release()
    known = codes("ngap") | codes("ccam")
    unknown = acts[~acts.code.isin(known)]
    notes = [
        f"code {r.code} hors des référentiels NGAP/CCAM : {r.acts_mt + r.acts_other:.0f} actes ignorés"
        for r in unknown.itertuples()
    ]
    data = {
        "centre": centre,
        "year": year,
        "source": "entrepôt",
        "panel": _panel_records(panel),
        "acts": _act_records(acts, known),
        "staff": [{"profession": r.profession, "fte": float(r.fte)} for r in staff.itertuples() if r.fte > 0],
        "measures": measure_lines(warehouse, year) if measures else [],
        "communes": [{"commune": str(r.commune), "patients": int(r.patients)} for r in communes.itertuples()],
        "gp_sites": [
            {"commune": str(r.commune), "fte": float(r.fte), "fte_67_plus": float(r.fte_67_plus)}
            for r in sites.itertuples()
            if r.fte > 0
        ],
        "notes": notes,
    }
    return parse_profile(data, f"warehouse profile {year}")


def _mt_patients(warehouse: Tables, context: Context) -> ir.Table:
    """The MT patients on the reference date with their model age band and their diabetic, seen and AME flags."""
    reference = context.reference_date
    persons = context.persons
    diabetics = members(context, "diabetes").select(diabetic_person="person_id").distinct()
    seen = context.seen(Window(months=int(parameter("modelling.unseen_months").at(reference))))
    seen = seen.select(seen_person="person_id")
    ame = _ame(warehouse, reference)
    mt = persons.filter(persons.mt_provider_id.notnull())
    mt = mt.left_join(diabetics, mt.person_id == diabetics.diabetic_person)
    mt = mt.left_join(seen, mt.person_id == seen.seen_person)
    mt = mt.left_join(ame, mt.person_id == ame.ame_person)
    bounds = parameter("modelling.age_bands").values[-1][1]
    return mt.mutate(
        age_band=age_band(mt.age, bounds, else_=None),
        diabetic=mt.diabetic_person.notnull(),
        is_seen=mt.seen_person.notnull(),
        is_ame=mt.ame_person.notnull() & ~mt.c2s,
    )


def count_false(flag: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows ``flag`` does not hold for, a null counting as not holding (``CASE WHEN flag THEN 0 ELSE 1``)."""
    return count_true(~flag.fill_null(False))


def _panel(mt: ir.Table) -> ir.Table:
    """MT patients by age band × ALD × C2S: patients, diabetics, unseen for the window, AME."""
    return mt.group_by("age_band", "ald", "c2s").agg(
        patients=mt.person_id.count(),
        diabetics=count_true(mt.diabetic),
        unseen=count_false(mt.is_seen),
        ame=count_true(mt.is_ame),
    )


def _panel_records(panel: pd.DataFrame) -> list[dict]:
    """One cell per age band × ALD × C2S of the model, with 0 patients where the warehouse has none."""
    cells = {(r.age_band, bool(r.ald), bool(r.c2s)): r for r in panel.itertuples()}
    return [
        {
            "age_band": band,
            "ald": ald,
            "c2s": c2s,
            "patients": int(row.patients) if row else 0,
            "diabetics": int(row.diabetics) if row else 0,
            "unseen": int(row.unseen) if row else 0,
            "ame": int(row.ame) if row else 0,
        }
        for band in age_bands()
        for ald in (False, True)
        for c2s in (False, True)
        for row in [cells.get((band, ald, c2s))]
    ]


def _act_records(acts: pd.DataFrame, known: Container[str]) -> list[dict]:
    """The acts of known NGAP/CCAM codes, by code and profession (an unknown profession left to the model)."""
    return [
        {
            "code": r.code,
            "profession": r.profession or None,
            "acts_mt": float(r.acts_mt),
            "acts_mt_65": float(r.acts_mt_65),
            "acts_mt_diabetic": float(r.acts_mt_diabetic),
            "acts_other": float(r.acts_other),
            "amount_observed": float(r.amount),
        }
        for r in acts.sort_values(["code", "profession"]).itertuples()
        if r.code in known
    ]


def quality_measures() -> list[Measure]:
    """The library's measures that pay: ROSP, FMT or IPEP in their programme, or an IPEP quality indicator."""
    ipep = {i["measure"] for i in latest("ipep.quality_indicators").values() if i.get("measure")}
    return [m for m in library().values() if {"ROSP", "FMT", "IPEP"} & set(m.programme) or m.id in ipep]


def measure_lines(warehouse: Tables, year: int) -> list[dict]:
    """The paying measures run on the calendar year (structure total), with the previous year's rate.

    The previous rate (ROSP progression, IPEP progress) is kept only when reportable that year.
    """
    chosen = quality_measures()
    table = run(warehouse, parse_period(str(year)), chosen).table
    before = run(warehouse, parse_period(str(year - 1)), chosen).table
    previous = {r.measure_id: float(r.rate) for r in before.itertuples() if r.reportable and r.rate == r.rate}
    return [
        {
            "id": r.measure_id,
            "eligible": int(r.eligible),
            "numerator": int(r.numerator),
            "rate": None if r.rate != r.rate else float(r.rate),
            "reportable": bool(r.reportable),
            "previous_rate": previous.get(r.measure_id),
        }
        for r in table.itertuples()
    ]


def _acts(warehouse: Tables, mt: ir.Table, year: int) -> ir.Table:
    """Acts of the year by code and profession: one act = the payer rows of one code on one visit."""
    billed = warehouse.table("fr_billed_act")
    billed = billed.filter(billed.act_date >= dt.date(year, 1, 1), billed.act_date <= dt.date(year, 12, 31))
    one = billed.group_by("person_id", "provider_id", "visit_occurrence_id", "act_date", "code").agg(
        amount=billed.amount.cast("float64").sum()
    )
    flags = mt.select(mt_person="person_id", over_65=mt.age >= 65, is_diabetic=mt.diabetic)
    activity = warehouse.table("fr_provider_activity").select(activity_provider="provider_id", profession="profession")
    joined = one.left_join(flags, one.person_id == flags.mt_person)
    joined = joined.left_join(activity, joined.provider_id == activity.activity_provider)
    in_mt = joined.mt_person.notnull()
    profession = joined.profession.fill_null("")
    return (
        joined.mutate(profession=profession)
        .group_by("code", "profession")
        .agg(
            acts_mt=count_true(in_mt),
            acts_mt_65=count_true(in_mt & joined.over_65.fill_null(False)),
            acts_mt_diabetic=count_true(in_mt & joined.is_diabetic.fill_null(False)),
            acts_other=count_false(in_mt),
            amount=joined.amount.sum(),
        )
    )


def _ame(warehouse: Tables, reference: dt.date) -> ir.Table:
    """Persons with an AME coverage in force on the reference date (the PEPS C2S/AME weight)."""
    cov = warehouse.table("fr_coverage_period")
    active = cov.filter(
        cov.coverage_type == "AME", cov.start_date <= reference, cov.end_date.isnull() | (cov.end_date >= reference)
    )
    return active.select(ame_person="person_id").distinct()


def _gp_sites(warehouse: Tables, reference: dt.date) -> ir.Table:
    """GP FTE in post on the reference date by commune of their care site, and those aged 67 or more."""
    activity = warehouse.table("fr_provider_activity")
    active = activity.filter(
        activity.profession == "MG",
        activity.start_date.isnull() | (activity.start_date <= reference),
        activity.end_date.isnull() | (activity.end_date >= reference),
    )
    provider = warehouse.table("provider").select("provider_id", "care_site_id", "year_of_birth")
    site = warehouse.table("care_site").select("care_site_id", site_location="location_id")
    location = warehouse.table("location").select(site_location="location_id", commune="location_source_value")
    joined = (
        active.left_join(provider, "provider_id").left_join(site, "care_site_id").left_join(location, "site_location")
    )
    older = (reference.year - joined.year_of_birth) >= int(parameter("fmt.zip_age_from").at(reference))
    joined = joined.mutate(commune=joined.commune.fill_null("inconnue"), older=older.fill_null(False))
    return (
        joined.group_by("commune")
        .agg(fte=joined.fte.sum(), fte_67_plus=ibis.ifelse(joined.older, joined.fte, 0).sum())
        .order_by("commune")
    )


def _staff(warehouse: Tables, reference: dt.date) -> ir.Table:
    """FTE by profession in post on the reference date."""
    activity = warehouse.table("fr_provider_activity")
    active = activity.filter(
        activity.start_date.isnull() | (activity.start_date <= reference),
        activity.end_date.isnull() | (activity.end_date >= reference),
    )
    return active.group_by("profession").agg(fte=active.fte.sum()).order_by("profession")


def last_full_year(warehouse: Tables) -> int | None:
    """The last calendar year whose acts run to 31 December (the year before the last act otherwise)."""
    billed = warehouse.table("fr_billed_act")
    last = warehouse.execute(billed.act_date.max())
    if last is None or last != last:
        return None
    last = dt.date.fromisoformat(str(last)[:10])
    return last.year if (last.month, last.day) == (12, 31) else last.year - 1

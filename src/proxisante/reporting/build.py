"""Building the report's content once, from the warehouse, through disclosure control.

Sources: the patientèle (``population.api.Patientele``), the activity (``reporting.sources``, Ibis on
``fr_billed_act`` / ``visit_occurrence`` / ``fr_provider_activity``), the measure library
(``measures.results.run`` on the period and the previous ones, then ``results.protect``) and the
economic model (``economics`` public functions, on a view of the warehouse without the objecting
patients). Patients who objected are left out of every count; every table is protected before it
enters the model.

The economic summary is in a report only with the structure's real costs (``Options.costs``): a report is
signed and sent to the assurance maladie, and the example costs of a fictitious centre would show a deficit
that is not the structure's. It is computed first, so that costs that do not fit the structure's staff are
refused in seconds rather than after the whole report.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from proxisante.disclosure import TOTAL, DisclosureSettings, settings_for, with_margins
from proxisante.economics.costs import Costs, CostsError
from proxisante.economics.payments import MODELS
from proxisante.economics.profile_warehouse import profile_from_warehouse
from proxisante.economics.uncertainty import simulate
from proxisante.measures.definition import GROUPS, Measure, library
from proxisante.measures.periods import Period, previous
from proxisante.measures.results import protect as protect_run
from proxisante.measures.results import run
from proxisante.population.panel import SEXES, band_labels
from proxisante.population.patientele import Patientele
from proxisante.reporting import counts, protect
from proxisante.reporting.model import (
    Column,
    Disclosure,
    EconomicModel,
    Economics,
    Indicator,
    Masked,
    Objection,
    PeriodInfo,
    Report,
    Row,
    Structure,
    Table,
    TrendPoint,
)
from proxisante.vocab import mapping
from proxisante.warehouse.tables import Tables

SEX_LABELS = {"F": "Femmes", "M": "Hommes", "I": "Indéterminé", TOTAL: "Total"}
INDICATOR_COUNTS = ("denominator", "exclusions", "numerator", "eligible")


@dataclass(frozen=True)
class Options:
    """What a report covers; the defaults are those of ``proxisante report``."""

    trend_periods: int = 2
    measures: Sequence[Measure] | None = None
    registries: Sequence[str] | None = None  # chronic registries of the composition (default: all)
    costs: Costs | None = None  # the structure's real costs (never the example): the economic summary
    draws: int = 2_000
    seed: int = 2026
    threshold: int | None = None
    # The name the header gives the structure (the registry's, for a report of one structure or a CPTS);
    # None: the name of the warehouse's care site.
    structure_name: str | None = None
    scope_note: str | None = None  # the scope in French, as a note of the report (none for the network)


def build_report(
    warehouse: Tables,
    period: Period,
    excluded: Iterable[int] = (),
    options: Options | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """The whole report of one period: every count without ``excluded`` persons, every cell protected.

    ``progress`` is told each step of :func:`report_steps` as it starts. Raises ``CostsError`` (French) when
    ``options.costs`` is the example or does not fit the structure's profile, and ``ProfileError`` when the
    year has no profile: asked for, the economic summary is never silently left out."""
    options = options or Options()
    excluded = frozenset(excluded)
    rules = settings_for(options.threshold)
    step = progress or (lambda _: None)
    header = report_structure(warehouse, options.structure_name)
    economics = None
    if options.costs is not None:
        step(ECONOMICS_STEP)
        economics = economics_summary(warehouse, period, excluded, options.costs, options, header.name)
    step("Patientèle")
    panel = panel_tables(warehouse, period, excluded, rules, options.registries)
    step("Activité")
    activity = activity_tables(warehouse, period, excluded, rules)
    step("Indicateurs")
    measures = list(options.measures or library().values())
    previous = previous_periods(period, options.trend_periods)
    indicators = indicator_rows(warehouse, period, previous, measures, excluded, rules)
    notes = [options.scope_note] if options.scope_note else []
    return Report(
        structure=header,
        period=PeriodInfo(period.label, period.start, period.end),
        previous_periods=[p.label for p in previous],
        generated_at=(now or dt.datetime.now(dt.UTC)).replace(microsecond=0),
        disclosure=disclosure_info(rules),
        objection=Objection(
            applied=True,
            text="Les patients qui se sont opposés à la réutilisation de leurs données hors de l'équipe de soins "
            "sont exclus de tous les effectifs de ce rapport.",
        ),
        panel=panel,
        activity=activity,
        indicators=indicators,
        economics=economics,
        notes=notes,
    )


ECONOMICS_STEP = "Modèle économique"
STEPS = ("Patientèle", "Activité", "Indicateurs")


def report_steps(options: Options) -> list[str]:
    """The steps ``build_report`` announces, in order, in French (for a progress bar)."""
    return ([ECONOMICS_STEP] if options.costs is not None else []) + list(STEPS)


def report_structure(warehouse: Tables, name: str | None = None) -> Structure:
    """The header's structure: the sites the warehouse (as the report's scope sees it) holds, under ``name``
    when the caller knows it from the registry."""
    found = counts.structure(warehouse)
    return Structure(name, found.sites) if name else found


def disclosure_info(rules: DisclosureSettings) -> Disclosure:
    t = rules.threshold.value
    return Disclosure(t, rules.mask_zeros.value, f"< {t}", "secret", " ".join(rules.threshold.source.split()))


# -- periods ----------------------------------------------------------------------------------


def previous_periods(period: Period, count: int) -> list[Period]:
    """The ``count`` periods of the same kind before ``period``, oldest first (the trend)."""
    found = []
    current = period
    for _ in range(count):
        current = previous(current)
        found.append(current)
    return found[::-1]


# -- patientèle --------------------------------------------------------------------------------


def panel_tables(
    warehouse: Tables, period: Period, excluded: frozenset[int], rules, registry_ids: Sequence[str] | None = None
) -> list[Table]:
    with Patientele(warehouse, period.end, registry_ids, exclude_person_ids=excluded) as patientele:
        pyramid = patientele.pyramid(by_provider=False)
        composition = patientele.composition(by_provider=False)
        access = patientele.access()
    day = f"{period.end:%d/%m/%Y}"
    return [
        pyramid_table(pyramid, day, rules),
        composition_table(composition, day, rules),
        access_table(access, rules),
    ]


def pyramid_table(pyramid: pd.DataFrame, day: str, rules) -> Table:
    frame = pyramid[pyramid.mt_rpps == TOTAL][["age_band", "sex", "patients"]]
    columns = [(sex, Column(f"sex_{sex}", SEX_LABELS[sex], "count")) for sex in (*SEXES, TOTAL)]
    spec = (
        "panel_pyramid",
        f"Patientèle médecin traitant au {day} par âge et sexe",
        Column("age_band", "âge", "text"),
        columns,
    )
    return protect.crossed(frame, "age_band", "sex", "patients", spec, rules)


def composition_table(composition: pd.DataFrame, day: str, rules) -> Table:
    rows = composition[composition.mt_rpps == TOTAL]
    whole = int(rows.panel.iloc[0]) if len(rows) else 0
    parts = [(r.indicator, r.label, int(r.patients)) for r in rows.itertuples()]
    return protect.parts_of_a_whole(
        "panel_composition",
        f"Composition de la patientèle médecin traitant au {day}",
        ("Patientèle médecin traitant", whole),
        parts,
        rules,
    )


def access_table(access: pd.DataFrame, rules) -> Table:
    bands = access[access.age_band != TOTAL]
    long = pd.concat(
        [
            bands[["age_band"]].assign(mt="with_mt", patients=bands.with_mt),
            bands[["age_band"]].assign(mt="without_mt", patients=bands.without_mt),
        ],
        ignore_index=True,
    )
    long = long.set_index("age_band").loc[band_labels()].reset_index()
    columns = [
        ("with_mt", Column("with_mt", "avec médecin traitant de la structure", "count")),
        ("without_mt", Column("without_mt", "sans médecin traitant de la structure", "count")),
        (TOTAL, Column("seen", "patients vus", "count")),
    ]
    spec = (
        "panel_access",
        "Patients vus en 24 mois, avec ou sans médecin traitant de la structure",
        Column("age_band", "âge", "text"),
        columns,
    )
    table = protect.crossed(long, "age_band", "mt", "patients", spec, rules)
    table.columns.append(Column("share_without_mt", "part sans médecin traitant", "share"))
    for r in table.rows:
        r.values["share_without_mt"] = protect.share(r.values["without_mt"], r.values["seen"])
        why = r.masked.get("without_mt") or r.masked.get("seen")
        if why:
            r.masked["share_without_mt"] = why
    return table


# -- activity -----------------------------------------------------------------------------------


def activity_tables(warehouse: Tables, period: Period, excluded: frozenset[int], rules) -> list[Table]:
    professions = mapping("professions", "label_fr")
    contacts, totals = counts.contacts(warehouse, period, excluded)
    by_profession = protect.by_one_dimension(
        "activity_professions",
        f"Contacts et patients par profession — {period.label}",
        contacts,
        Column("profession", "profession", "text"),
        [Column("contacts", "contacts", "count"), Column("patients", "patients distincts", "count")],
        totals,
        rules,
        labels=professions,
    )
    by_profession.note = (
        "Un patient vu par plusieurs professions compte dans chacune ; le total compte les patients distincts."
    )
    return [by_profession, acts_table(counts.acts(warehouse, period, excluded), period, rules)]


def act_labels() -> dict[str, str]:
    return {**mapping("ccam", "label_fr"), **mapping("ngap", "label_fr")}


def acts_table(frame: pd.DataFrame, period: Period, rules) -> Table:
    """Acts by profession and code, with each profession's subtotal and the total (one table, protected)."""
    professions, labels = mapping("professions", "label_fr"), act_labels()
    long = protect.protected(
        with_margins(frame, ["profession", "code"], ["acts"]), ["profession", "code"], ["acts"], rules
    )
    found = protect.cells(long, ["profession", "code"], "acts")
    rows: list[Row] = []
    for profession in dict.fromkeys(frame.profession.tolist()):
        name = professions.get(profession, profession)
        for code in frame[frame.profession == profession].code:
            count, why = found[(profession, code)]
            rows.append(
                protect.row(
                    {"profession": name, "code": code, "label": labels.get(code, ""), "acts": count}, {"acts": why}
                )
            )
        count, why = found[(profession, TOTAL)]
        rows.append(
            protect.row({"profession": name, "code": TOTAL, "label": f"Total {name}", "acts": count}, {"acts": why})
        )
    count, why = found.get((TOTAL, TOTAL), (0, None))
    rows.append(
        protect.row(
            {"profession": TOTAL, "code": TOTAL, "label": "Total de la structure", "acts": count}, {"acts": why}
        )
    )
    columns = [
        Column("profession", "profession", "text"),
        Column("code", "code", "text"),
        Column("label", "acte", "text"),
        Column("acts", "actes", "count"),
    ]
    note = "Un acte : les lignes de facturation (AMO, AMC...) d'un code pour un patient lors d'un contact."
    return Table("activity_acts", f"Actes facturés par profession et par type — {period.label}", columns, rows, note)


# -- indicators ---------------------------------------------------------------------------------


def protected_run(
    warehouse: Tables, period: Period, measures: list[Measure], excluded: frozenset[int], rules
) -> pd.DataFrame:
    """The structure's row of every measure on ``period``, protected (``measures run --protect``)."""
    table = run(warehouse, period, measures, exclude_person_ids=excluded).table
    protected = protect_run(table, threshold=rules.threshold.value).set_index("measure_id")
    return protected.assign(**{f"raw_{k}": table.set_index("measure_id")[k] for k in INDICATOR_COUNTS})


def indicator_rows(
    warehouse: Tables,
    period: Period,
    previous: list[Period],
    measures: list[Measure],
    excluded: frozenset[int],
    rules,
) -> list[Indicator]:
    current = protected_run(warehouse, period, measures, excluded, rules)
    history = [(p.label, protected_run(warehouse, p, measures, excluded, rules)) for p in previous]
    order = {g: i for i, g in enumerate(GROUPS)}  # the groups' reading order
    rows = []
    for m in sorted(measures, key=lambda m: (order.get(m.group, 9), m.id)):
        r = current.loc[m.id]
        trend = [_point(label, frame.loc[m.id]) for label, frame in history]
        now = _point(period.label, r)
        rows.append(
            Indicator(
                id=m.id,
                label=m.label,
                short_label=m.short_label,
                group=m.group,
                programme=list(m.programme),
                scoring=m.scoring,
                direction=m.direction,
                denominator=_count(r.denominator),
                exclusions=_count(r.exclusions),
                numerator=_count(r.numerator),
                eligible=now.eligible,
                rate=now.rate,
                ci_low=now.ci_low,
                ci_high=now.ci_high,
                reportable=now.reportable,
                masked=now.masked,
                masked_counts=_masked_counts(r, now.masked, rules),
                objective_intermediate=m.objectives.intermediate,
                objective_target=m.objectives.target,
                status=str(r.objective or ""),
                evolution=evolution(m, trend[-1] if trend else None, now),
                trend=[*trend, now],
            )
        )
    return rows


def _masked_counts(r: pd.Series, why: Masked | None, rules) -> dict[str, Masked]:
    """Each count of a masked row: "primary" when that count is itself small, "secondary" otherwise
    (the row was masked for another count, a difference of counts, or as a complement)."""
    if why is None:
        return {}
    small = range(rules.floor, rules.threshold.value)
    return {k: "primary" if int(r[f"raw_{k}"]) in small else "secondary" for k in INDICATOR_COUNTS}


def _count(cell) -> int | None:
    return protect.value(cell)


def _number(cell) -> float | None:
    return None if cell is pd.NA or cell is None or pd.isna(cell) else float(cell)


def _point(label: str, r: pd.Series) -> TrendPoint:
    why: Masked | None = protect.reason(str(r.suppressed))
    reportable = bool(r.reportable) and why is None
    rate, low, high = (_number(v) if reportable else None for v in (r.rate, r.ci_low, r.ci_high))
    return TrendPoint(label, _count(r.eligible), _count(r.numerator), rate, low, high, reportable, why)


def evolution(measure: Measure, before: TrendPoint | None, now: TrendPoint) -> str:
    """Better, worse or stable against the previous period: a change counts when the 95 % intervals
    do not overlap; "non calculable" when either period is masked or under the minimum denominator."""
    if before is None or before.rate is None or now.rate is None:
        return "non calculable"
    low_before, high_before, low_now, high_now = before.ci_low, before.ci_high, now.ci_low, now.ci_high
    if low_before is None or high_before is None or low_now is None or high_now is None:
        return "non calculable"
    if low_now > high_before or high_now < low_before:
        up = now.rate > before.rate
        return "en amélioration" if up == (measure.direction == "higher") else "en dégradation"
    return "stable"


# -- economics ----------------------------------------------------------------------------------


def economics_period_refusal(period: Period) -> str | None:
    """Why the economic summary cannot cover ``period`` (French), or None: it is computed on a calendar year."""
    if period.label.isdigit():
        return None
    return f"le résumé économique se calcule sur une année civile (--period 2025), pas sur {period.label}"


def economics_summary(
    warehouse: Tables,
    period: Period,
    excluded: frozenset[int],
    costs: Costs,
    options: Options,
    centre: str | None = None,
) -> Economics:
    """The payment models of the year side by side (``economics`` public functions) under the structure's
    costs. Refuses the example costs, a period that is not a calendar year, and costs that do not fit."""
    if costs.example:
        raise CostsError("charges d'EXEMPLE refusées : un rapport ne contient que les charges réelles de la structure")
    refusal = economics_period_refusal(period)
    if refusal:
        raise CostsError(refusal)
    year = int(period.label)
    view = counts.WithoutPersons(warehouse, excluded)
    profile = profile_from_warehouse(view, year, centre=centre or counts.structure(warehouse).name)
    costs.by_item(profile)  # a profession of the staff without a salary line: refused before the draws
    simulation = simulate(profile, costs, [year], draws=options.draws, seed=options.seed)
    models = []
    for key, label in MODELS.items():
        r, b = simulation.results[year][key], simulation.bands[year][key]
        revenue = float(r.revenue)
        models.append(
            EconomicModel(
                key,
                label,
                round(revenue),
                round(float(r.cost)),
                round(float(r.result)),
                None if revenue == 0 or math.isnan(revenue) else float(r.margin),
                round(b.result[5]),
                round(b.result[95]),
                float(b.probability_positive),
            )
        )
    note = (
        "Montants annuels en euros, tous payeurs, aux paramètres datés de l'année ; bandes P5–P95 sur les "
        f"paramètres incertains. Charges de la structure : {costs.label}."
    )
    return Economics(year, costs.label, False, options.draws, options.seed, models, note)

"""Running measures: counts in the standard measure-report shape, rates and their 95 % interval.

The warehouse returns additive counts (initial population, denominator, exclusions, numerator,
numerator events) grouped by the finest combination of the dimensions asked for, in one query per
measure; totals and stratifier margins are sums of those counts, done here on the small result.
Rates, intervals and objectives are computed last, so every engine only has integers to agree on.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from proxisante.disclosure import TOTAL, protect_measure_results, with_margins
from proxisante.measures.compile import MeasureCompiler
from proxisante.measures.context import PARAMETERS, Context
from proxisante.measures.definition import Measure, library
from proxisante.measures.periods import Period, month_ends, month_period
from proxisante.warehouse.expr import count_true
from proxisante.warehouse.tables import Tables

COUNTS = ("initial_population", "denominator", "exclusions", "numerator", "numerator_events")
GROUPINGS = {"provider": "mt_rpps", "care_site": "care_site_id"}
DIMENSIONS = (*GROUPINGS, "age_band", "sex", "c2s", "ald", "commune")


def per_person(measure: Measure, context: Context, period: Period, history: bool = False):
    """The per-person table of one measure (an Ibis expression, not executed): its criteria look back over
    the measure's own window ending on the period's last day (a quarter of an annual indicator is the
    12 months ending with the quarter), or over the window the period gives (``12M:…``)."""
    return MeasureCompiler(measure, context, window=period.window_for(measure)).per_person(history=history)


def counts(measure: Measure, context: Context, period: Period, dims: Sequence[str] = ()) -> pd.DataFrame:
    """Counts of one measure grouped by ``dims`` (names from DIMENSIONS), one query on the warehouse.

    Booleans are counted with CASE, not a cast: PostgreSQL refuses ``boolean::bigint``.
    """
    table = per_person(measure, context, period)
    columns = {dim: table[GROUPINGS.get(dim, dim)] for dim in dims}
    grouped = table.mutate(**columns).group_by(list(dims)) if dims else table
    aggregate = grouped.agg(
        initial_population=table.person_id.count(),
        denominator=count_true(table.in_denominator),
        exclusions=count_true(table.in_exclusions),
        numerator=count_true(table.in_numerator),
        numerator_events=table.numerator_events.sum(),
    )
    frame = context.warehouse.execute(aggregate)
    for column in COUNTS:
        frame[column] = frame[column].fillna(0).astype("int64")
    for dim in dims:
        frame[dim] = frame[dim].astype("string").fillna("(inconnu)")
    return frame.sort_values(list(dims)).reset_index(drop=True) if dims else frame


def wilson(numerator: int, total: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (well-behaved for small counts and rates near 0 or 1)."""
    if total == 0:
        return math.nan, math.nan
    p = numerator / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def byar(events: int, total: int, z: float) -> tuple[float, float]:
    """Byar's approximation of the exact Poisson interval, per 100 persons (antibiotic courses)."""
    if total == 0:
        return math.nan, math.nan
    low = 0.0 if events == 0 else events * (1 - 1 / (9 * events) - z / (3 * math.sqrt(events))) ** 3
    upper = events + 1
    high = upper * (1 - 1 / (9 * upper) + z / (3 * math.sqrt(upper))) ** 3
    return 100 * low / total, 100 * high / total


def add_rates(frame: pd.DataFrame, measure: Measure) -> pd.DataFrame:
    """Rate, interval and objective status of every row of a count table."""
    z = PARAMETERS.value("wilson_z")
    out = frame.copy()
    eligible = out.denominator - out.exclusions
    out["eligible"] = eligible
    rates, lows, highs = [], [], []
    for num, events, total in zip(out.numerator, out.numerator_events, eligible, strict=True):
        if measure.scoring == "events_per_100":
            low, high = byar(int(events), int(total), z)
            rates.append(100 * events / total if total else math.nan)
        else:
            low, high = wilson(int(num), int(total), z)
            rates.append(num / total if total else math.nan)
        lows.append(low)
        highs.append(high)
    out["rate"], out["ci_low"], out["ci_high"] = rates, lows, highs
    out["reportable"] = eligible >= measure.minimum_denominator
    out["objective"] = [objective_status(measure, r, ok) for r, ok in zip(out.rate, out.reportable, strict=True)]
    return out


def objective_status(measure: Measure, rate: float, reportable: bool) -> str:
    """ "cible atteinte", "intermédiaire atteint", "sous l'objectif", or "" without objectives or data."""
    target, middle = measure.objectives.target, measure.objectives.intermediate
    if not reportable or math.isnan(rate) or (target is None and middle is None):
        return ""
    better: Callable[[float, float], bool] = (
        (lambda a, b: a >= b) if measure.direction == "higher" else (lambda a, b: a <= b)
    )
    if target is not None and better(rate, target):
        return "cible atteinte"
    if middle is not None and better(rate, middle):
        return "intermédiaire atteint"
    return "sous l'objectif"


@dataclass
class MeasureRun:
    """The results of a run: one row per measure and group, with the period and reference date."""

    period: Period
    table: pd.DataFrame


def run(
    warehouse: Tables,
    period: Period,
    measures: Iterable[Measure] | None = None,
    *,
    by: Sequence[str] = (),
    stratify: bool = False,
    progress: Callable[[Measure], None] | None = None,
    exclude_person_ids: Iterable[int] = (),
) -> MeasureRun:
    """Every measure on one period: a total row, one row per value of ``by``, and per stratifier.

    ``exclude_person_ids``: persons left out of every population (patients who objected, for a
    report that leaves the structure).
    """
    context = Context(warehouse, period.end, exclude_person_ids=frozenset(exclude_person_ids))
    rows = []
    try:
        for measure in measures or library().values():
            rows.append(_measure_rows(measure, context, period, by, stratify))
            if progress:
                progress(measure)
    finally:
        context.release()
    return MeasureRun(period, pd.concat(rows, ignore_index=True))


def _measure_rows(measure: Measure, context: Context, period: Period, by: Sequence[str], stratify: bool):
    strata = [s for s in measure.stratifiers if stratify]
    fine = counts(measure, context, period, [*by, *strata])
    blocks = [_summary(fine, list(by), measure, "")]
    for stratifier in strata:
        block = _summary(fine, [*by, stratifier], measure, stratifier).rename(columns={stratifier: "stratum"})
        blocks.append(block[block.stratum != TOTAL])
    frame = pd.concat(blocks, ignore_index=True)
    frame.insert(0, "measure_id", measure.id)
    frame.insert(1, "period", period.label)
    return frame


def _summary(fine: pd.DataFrame, dims: list[str], measure: Measure, stratifier: str) -> pd.DataFrame:
    if dims:
        grouped = fine.groupby(dims, dropna=False)[list(COUNTS)].sum().reset_index()
        frame = with_margins(grouped, dims[:1], COUNTS) if len(dims) == 1 else _nested(grouped, dims)
    else:
        frame = fine[list(COUNTS)].sum().to_frame().T.astype("int64")
    frame = add_rates(frame, measure)
    frame.insert(0, "stratifier", stratifier)
    return frame


def _nested(grouped: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Rows per (group, stratum), per stratum over all groups, and each group's total."""
    group, stratum = dims[0], dims[1]
    totals = grouped.groupby(group, dropna=False)[list(COUNTS)].sum().reset_index()
    totals[stratum] = TOTAL
    strata = grouped.groupby(stratum, dropna=False)[list(COUNTS)].sum().reset_index()
    strata[group] = TOTAL
    overall = grouped[list(COUNTS)].sum().to_frame().T
    overall[group], overall[stratum] = TOTAL, TOTAL
    return pd.concat([grouped, strata, totals, overall], ignore_index=True)


def series(
    warehouse: Tables, measure: Measure, first: dt.date, last: dt.date, exclude_person_ids: Iterable[int] = ()
) -> pd.DataFrame:
    """Monthly time series: the measure on its window (12 rolling months for an annual indicator) ending on
    each month's last day."""
    rows, excluded = [], frozenset(exclude_person_ids)
    for end in month_ends(first, last):
        period, context = month_period(end), Context(warehouse, end, exclude_person_ids=excluded)
        try:
            frame = add_rates(counts(measure, context, period), measure)
        finally:
            context.release()
        frame.insert(0, "reference_date", end)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def protect(frame: pd.DataFrame, by: Sequence[str] = (), threshold: int | None = None) -> pd.DataFrame:
    """A run's table fit to leave the structure: small cells masked, with secondary suppression.

    Each measure is protected block by block (its totals with one stratifier's strata, ``by``
    nested); a total row masked in any block is masked in the output, since masking more never
    reveals more. ``eligible`` and ``numerator_events`` go with the row's other counts.
    """
    out = []
    for _, rows in frame.groupby("measure_id", sort=False):
        overall = rows[rows.stratifier == ""].assign(stratum=TOTAL).reset_index(drop=True)
        totals = protect_measure_results(overall, dims=[*by, "stratum"], threshold=threshold)
        strata = []
        for stratifier in (s for s in rows.stratifier.unique() if s):
            block = pd.concat([overall, rows[rows.stratifier == stratifier]], ignore_index=True)
            done = protect_measure_results(block, dims=[*by, "stratum"], threshold=threshold)
            totals = _also_masked(totals, done.iloc[: len(overall)].reset_index(drop=True))
            strata.append(done.iloc[len(overall) :])
        out.extend([totals, *strata])
    protected = pd.concat(out, ignore_index=True)
    hidden = protected.suppressed != ""
    for column in ("eligible", "numerator_events"):
        protected[column] = protected[column].astype("Int64").mask(hidden)
    protected["reportable"] = protected.reportable & ~hidden
    protected.loc[hidden, "objective"] = ""
    return protected


def _also_masked(kept: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    extra = (other.suppressed != "").to_numpy() & (kept.suppressed == "").to_numpy()
    kept = kept.copy()
    for column in ("initial_population", "denominator", "exclusions", "numerator", "rate", "ci_low", "ci_high"):
        kept[column] = kept[column].mask(extra)
    kept.loc[extra, "suppressed"] = "secondary"
    return kept

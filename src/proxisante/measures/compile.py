"""Compiling a measure to one Ibis expression: a row per person of the initial population, with flags.

Each leaf criterion becomes a small aggregate (person_id, count, last date) over one event table,
filtered by the concept ids of its value set and by its window given as literal dates. The leaves
are left-joined to the initial population and combined into the boolean columns of the standard
measure report: ``in_denominator``, ``in_exclusions``, ``in_numerator``. Nothing here is specific
to an engine; ``tests/test_measure_engines.py`` proves DuckDB, PostgreSQL and Spark agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from proxisante.measures.context import PARAMETERS, Context
from proxisante.measures.definition import Criterion, Episode, Measure, Window
from proxisante.vocab.valuesets import value_set
from proxisante.warehouse.expr import as_int


@dataclass(frozen=True)
class EventSource:
    """Where the events of one criterion kind live, and which concept column holds which vocabulary."""

    table: str
    date: str
    concepts: dict[str, tuple[str, ...]]
    end_date: str | None = None
    key: str | None = None


EVENT_SOURCES = {
    "condition": EventSource(
        "condition_occurrence", "condition_start_date", {"CIM10": ("condition_source_concept_id",)}
    ),
    "drug": EventSource(
        "drug_exposure",
        "drug_exposure_start_date",
        {"ATC": ("drug_concept_id", "drug_source_concept_id"), "CIP13": ("drug_source_concept_id",)},
        end_date="drug_exposure_end_date",
        key="drug_exposure_id",
    ),
    "lab": EventSource(
        "measurement",
        "measurement_date",
        {
            "NABM": ("measurement_source_concept_id",),
            "LOINC": ("measurement_concept_id", "measurement_source_concept_id"),
        },
    ),
    "procedure": EventSource("procedure_occurrence", "procedure_date", {"CCAM": ("procedure_source_concept_id",)}),
    "visit": EventSource("visit_occurrence", "visit_start_date", {"NGAP": ("visit_source_concept_id",)}),
}


@dataclass(frozen=True)
class Leaf:
    """A compiled leaf criterion: its flag column in the person table and its columns of evidence."""

    flag: str
    count: str
    last: str
    criterion: Criterion


class MeasureCompiler:
    """Turns one measure into a per-person Ibis table on a context's reference date."""

    def __init__(self, measure: Measure, context: Context, window: Window | None = None) -> None:
        self.measure = measure
        self.context = context
        self.window = window or measure.window
        self._leaves: list[tuple[str, ir.Table]] = []

    @property
    def reference_date(self) -> dt.date:
        return self.context.reference_date

    # -- populations --------------------------------------------------------------------------

    def initial_population(self) -> ir.Table:
        m, ctx = self.measure, self.context
        persons = ctx.persons
        if m.population == "patientele_mt":
            persons = persons.filter(persons.mt_provider_id.notnull())
        elif m.population == "seen":
            persons = persons.semi_join(ctx.seen(Window(**PARAMETERS.value("seen_window"))), "person_id")
        earliest, latest = ctx.birth_bounds(m.age.min, m.age.max)
        if latest is not None:
            persons = persons.filter(persons.birth_date <= latest)
        if earliest is not None:
            persons = persons.filter(persons.birth_date >= earliest)
        if m.sex is not None:
            persons = persons.filter(persons.sex == m.sex)
        return persons

    def per_person(self, history: bool = False) -> ir.Table:
        """The initial population with ``in_denominator``, ``in_exclusions``, ``in_numerator``,
        ``numerator_events`` (events_per_100) and ``evidence_date``: the last numerator event in its
        window, or with ``history`` at any date up to the reference date (a mammography three years
        ago is what makes the next one due: care gaps and prevention plans ask for it)."""
        m = self.measure
        self._leaves = []
        denominator = self._all(m.denominator)
        exclusions = self._any(m.exclusions) if m.exclusions else None
        numerator = self._all(m.numerator)
        if history:
            unbounded = [
                leaf.criterion.model_copy(update={"within": None, "ever": True, "min_count": 1, "negate": False})
                for leaf in _positive_leaves(numerator)
                if leaf.criterion.kind in EVENT_SOURCES
            ]
            evidence_node = self._any(tuple(unbounded)) if unbounded else numerator
        table = self.initial_population()
        for name, leaf in self._leaves:
            # Chained joins stay one join node in Ibis; dropping columns in between would nest selects.
            table = table.left_join(leaf, table.person_id == leaf[f"{name}_person"])
        in_denominator = self._evaluate(denominator, table)
        in_exclusions = in_denominator & self._evaluate(exclusions, table) if exclusions else ibis.literal(False)
        in_numerator = in_denominator & ~in_exclusions & self._evaluate(numerator, table)
        first = numerator if isinstance(numerator, Leaf) else None
        events = table[first.count].fill_null(0) if first is not None and m.scoring == "events_per_100" else None
        evidence = self._evidence(evidence_node if history else numerator, table)
        keep = [c for c in self.context.persons.columns if c in table.columns]
        return table.select(
            *keep,
            in_denominator=in_denominator,
            in_exclusions=in_exclusions,
            in_numerator=in_numerator,
            numerator_events=(
                ibis.ifelse(in_denominator & ~in_exclusions, events, 0).cast("int64")
                if events is not None
                else as_int(in_numerator)
            ),
            evidence_date=evidence,
        )

    # -- criteria tree ------------------------------------------------------------------------

    def _all(self, criteria: tuple[Criterion, ...]) -> tuple | Leaf | None:
        if not criteria:
            return None
        nodes = [self._node(c) for c in criteria]
        return nodes[0] if len(nodes) == 1 else ("and", nodes)

    def _any(self, criteria: tuple[Criterion, ...]) -> tuple | Leaf | None:
        nodes = [self._node(c) for c in criteria]
        return nodes[0] if len(nodes) == 1 else ("or", nodes)

    def _node(self, criterion: Criterion) -> tuple | Leaf | None:
        """None for an empty ``all_of`` (true for every person)."""
        if criterion.any_of is not None:
            node = self._any(criterion.any_of)
        elif criterion.all_of is not None:
            node = self._all(criterion.all_of)
        else:
            node = self._leaf(criterion)
        return ("not", [node]) if criterion.negate else node

    def _evaluate(self, node: tuple | Leaf | None, table: ir.Table) -> ir.BooleanValue:
        if node is None:
            return ibis.literal(True)
        if isinstance(node, Leaf):
            return table[node.flag].fill_null(False)
        op, children = node
        values = [self._evaluate(child, table) for child in children]
        if op == "not":
            return ~values[0]
        result = values[0]
        for value in values[1:]:
            result = (result & value) if op == "and" else (result | value)
        return result

    def _evidence(self, node: tuple | Leaf | None, table: ir.Table) -> ir.DateValue:
        leaves = _positive_leaves(node)
        if not leaves:
            return ibis.null("date")
        dates = [table[leaf.last] for leaf in leaves]
        return dates[0] if len(dates) == 1 else ibis.greatest(*dates)

    # -- leaves -------------------------------------------------------------------------------

    def _leaf(self, criterion: Criterion) -> Leaf:
        name = f"c{len(self._leaves)}"
        start, _ = self._bounds(criterion)
        # The facts do not depend on min_count nor negation: measures sharing a criterion share them.
        key = criterion.model_copy(update={"min_count": 1, "negate": False}).model_dump_json() + f"|{start}"
        facts = self.context.shared(key, lambda: self._facts(criterion))
        facts = facts.select(
            **{f"{name}_person": facts.person_id, f"{name}_n": facts.n, f"{name}_last": facts.last},
            **{f"{name}_ok": facts.n >= criterion.min_count},
        )
        self._leaves.append((name, facts))
        return Leaf(flag=f"{name}_ok", count=f"{name}_n", last=f"{name}_last", criterion=criterion)

    def _facts(self, criterion: Criterion) -> ir.Table:
        """(person_id, n, last) of one leaf criterion."""
        if criterion.kind in EVENT_SOURCES:
            if criterion.episode is not None:
                return self._episodes(criterion, criterion.episode)
            return self._events(criterion)
        return self._status(criterion)

    def _bounds(self, criterion: Criterion) -> tuple[dt.date | None, dt.date]:
        ref = self.reference_date
        if criterion.ever:
            return None, ref
        return (criterion.within or self.window).start(ref), ref

    def _matching(self, criterion: Criterion) -> ir.Table:
        source = EVENT_SOURCES[criterion.kind]
        events = self.context.table(source.table)
        vs = criterion.value_set
        assert vs is not None
        tests = [
            events[column].isin(ids)
            for vocabulary, columns in source.concepts.items()
            if (ids := self.context.concept_ids(vs, vocabulary))
            for column in columns
        ]
        if not tests:
            return events.filter(ibis.literal(False))
        match = tests[0]
        for test in tests[1:]:
            match = match | test
        return events.filter(match)

    def _events(self, criterion: Criterion) -> ir.Table:
        source = EVENT_SOURCES[criterion.kind]
        events = self._matching(criterion)
        start, end = self._bounds(criterion)
        date = events[source.date]
        events = events.filter(date <= end) if start is None else events.filter(date >= start, date <= end)
        return events.group_by("person_id").agg(n=events[source.date].nunique(), last=events[source.date].max())

    def _episodes(self, criterion: Criterion, episode: Episode) -> ir.Table:
        """Treatment episodes initiated in the window (and lasting ``min_days`` when asked)."""
        source = EVENT_SOURCES["drug"]
        events = self._matching(criterion)
        events = events.filter(events[source.date] <= self.reference_date)
        start_day = events[source.date].epoch_days()
        end_day = ibis.greatest(events[source.end_date].fill_null(events[source.date]).epoch_days(), start_day)
        spans = events.select(
            "person_id", key=events[source.key], start=start_day, end=end_day, start_date=events[source.date]
        )
        before = ibis.window(group_by="person_id", order_by=["start", "end", "key"], rows=(None, -1))
        spans = spans.mutate(reach=spans.end.max().over(before))
        starts_anew = spans.reach.isnull() | (spans.start > spans.reach + episode.gap_days)
        spans = spans.mutate(new=as_int(starts_anew))
        upto = ibis.window(group_by="person_id", order_by=["start", "end", "key"], rows=(None, 0))
        spans = spans.mutate(episode=spans.new.sum().over(upto))
        episodes = spans.group_by(["person_id", "episode"]).agg(
            start=spans.start.min(), end=spans.end.max(), start_date=spans.start_date.min()
        )
        previous = ibis.window(group_by="person_id", order_by="start")
        episodes = episodes.mutate(previous_end=episodes.end.lag().over(previous))
        window_start, _ = self._bounds(criterion)
        first_day = (window_start or dt.date(1900, 1, 1)) - dt.date(1970, 1, 1)
        last_day = self.reference_date - dt.date(1970, 1, 1)
        kept = episodes.filter(
            episodes.start >= first_day.days,
            episodes.start <= last_day.days,
            episodes.previous_end.isnull() | (episodes.start - episodes.previous_end > episode.washout_days),
        )
        if episode.min_days is not None:
            kept = kept.filter(kept.end - kept.start + 1 >= episode.min_days)
        return kept.group_by("person_id").agg(n=kept.start.count(), last=kept.start_date.max())

    def _status(self, criterion: Criterion) -> ir.Table:
        """ALD or C2S/AME coverage in force at some point of the window (on the reference date by default)."""
        cov = self.context.table("fr_coverage_period")
        ref = self.reference_date
        start = (criterion.within or Window(days=1)).start(ref) if not criterion.ever else None
        overlap = cov.start_date <= ref
        if start is not None:
            overlap = overlap & (cov.end_date.isnull() | (cov.end_date >= start))
        if criterion.kind == "coverage":
            rows = cov.filter(overlap, cov.coverage_type == criterion.coverage)
        else:
            rows = cov.filter(overlap, cov.coverage_type == "ALD")
            if criterion.value_set is not None:
                rows = rows.filter(_cim10_match(rows.cim10, criterion.value_set))
        return rows.group_by("person_id").agg(n=rows.start_date.nunique(), last=rows.start_date.max())


def _cim10_match(column: ir.StringValue, value_set_name: str) -> ir.BooleanValue:
    vs = value_set(value_set_name)
    included = [column.startswith(code) for code in vs.codes.get("CIM10", ())]
    excluded = [column.startswith(code) for code in vs.exclude.get("CIM10", ())]
    match = ibis.literal(False)
    for test in included:
        match = match | test
    for test in excluded:
        match = match & ~test
    return match


def _positive_leaves(node: tuple | Leaf | None) -> list[Leaf]:
    if node is None:
        return []
    if isinstance(node, Leaf):
        return [node]
    op, children = node
    if op == "not":
        return []
    return [leaf for child in children for leaf in _positive_leaves(child)]

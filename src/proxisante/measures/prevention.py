"""Personal prevention plans (plan personnalisé de prévention) from the French calendar.

Each item of ``prevention_calendar.yaml`` is turned into a measure (its own age, sex and evidence,
or a library measure it points to) and run set-based like any other; the plan of a person is the
list of items whose denominator they are in, each "fait le ..." with the next date, or "à faire"
since a date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from importlib import resources

import ibis
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proxisante.definitions import DefinitionError, Source, explain, load_yaml
from proxisante.measures.context import Context
from proxisante.measures.definition import AgeRange, Criterion, Measure, library
from proxisante.measures.gaps import due_since
from proxisante.measures.periods import Period
from proxisante.measures.results import per_person
from proxisante.warehouse.tables import Tables

CALENDAR = resources.files(__package__) / "prevention_calendar.yaml"
PLAN_COLUMNS = ("person_id", "item_id", "label", "status", "last_done", "next_due", "source")


class CalendarItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str | None = None
    measure: str | None = None
    age: AgeRange | None = None
    sex: str | None = None
    evidence: Criterion | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> CalendarItem:
        if (self.measure is None) == (self.age is None and self.evidence is None):
            raise ValueError("give either measure, or age and evidence")
        if self.measure is not None and self.measure not in library():
            raise ValueError(f"unknown measure {self.measure!r}")
        if self.measure is None and not self.label:
            raise ValueError("an item of its own needs a label")
        return self


class Calendar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    items: tuple[CalendarItem, ...]


@cache
def calendar() -> Calendar:
    try:
        return Calendar.model_validate(load_yaml(CALENDAR))
    except ValidationError as error:
        raise explain(CALENDAR, error) from error


def item_measures() -> list[tuple[CalendarItem, Measure]]:
    """Each calendar item as a measure: the library's, or one built from the item (population: all)."""
    cal = calendar()
    pairs = []
    for item in cal.items:
        if item.measure is not None:
            pairs.append((item, library()[item.measure]))
            continue
        if item.evidence is None:
            raise DefinitionError(f"{CALENDAR}: item {item.id}: no evidence")
        pairs.append(
            (
                item,
                Measure(
                    id=item.id,
                    label=item.label,
                    short_label=(item.label or item.id)[:60],
                    group="prevention",
                    source=cal.source,
                    population="all",
                    age=item.age or AgeRange(),
                    sex=item.sex,
                    numerator=(item.evidence,),
                    action=item.label or item.id,
                    stratifiers=(),
                ),
            )
        )
    return pairs


def prevention_plan(warehouse: Tables, period: Period, person_ids: Iterable[int]) -> pd.DataFrame:
    """The plan of some persons on the period's last day: one row per (person, applicable item)."""
    ids = [int(p) for p in person_ids]
    # No materialised tables: the filter on a few persons then reaches every query.
    context = Context(warehouse, period.end, cache_tables=False)
    pairs = item_measures()
    tables = []
    for item, measure in pairs:
        table = per_person(measure, context, period, history=True)
        table = table.filter(table.person_id.isin(ids), table.in_denominator & ~table.in_exclusions)
        tables.append(
            table.select(
                "person_id",
                item_id=ibis.literal(item.id),
                done=table.in_numerator,
                last_done=table.evidence_date,
            )
        )
    try:
        frame = warehouse.execute(ibis.union(*tables) if len(tables) > 1 else tables[0])
    finally:
        context.release()
    by_item = {item.id: (item, measure) for item, measure in pairs}
    frame["last_done"] = pd.to_datetime(frame.last_done).dt.date
    frame["label"] = [
        by_item[i][1].short_label if by_item[i][0].measure else by_item[i][0].label for i in frame.item_id
    ]
    frame["next_due"] = [
        _next_due(by_item[i][1], last, period) for i, last in zip(frame.item_id, frame.last_done, strict=True)
    ]
    frame["status"] = [_status(done, due, period.end) for done, due in zip(frame.done, frame.next_due, strict=True)]
    frame["source"] = [by_item[i][1].source.text.split(";")[0][:120] for i in frame.item_id]
    return frame[list(PLAN_COLUMNS)].sort_values(["person_id", "item_id"]).reset_index(drop=True)


def _next_due(measure: Measure, last: dt.date | None, period: Period) -> dt.date | None:
    return due_since(measure.model_copy(update={"direction": "higher"}), last, period)


def _status(done: bool, next_due: dt.date | None, reference: dt.date) -> str:
    if done:
        return "fait"
    if next_due is None:
        return "à faire"
    return "à faire" if next_due <= reference else "fait"

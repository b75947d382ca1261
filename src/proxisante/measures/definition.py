"""The measure format: one YAML file per indicator, validated into typed objects.

A measure says *who* is counted (initial population, age, sex), *who* is eligible (denominator
criteria), *who* is set aside (exclusions) and *who* meets it (numerator criteria), each criterion
naming a value set and a look-back window. ``docs/measures.md`` is the reference of this format;
an invalid file is refused with a message naming the file and the field.
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from proxisante.definitions import DefinitionError, Source, parse_definition
from proxisante.vocab.valuesets import value_sets

LIBRARY = resources.files(__package__) / "library"
# The groups of measures, in the order a care team reads them, and their French label (CLI tables, report
# order, web pages). The Literal types ``Measure.group``; tests/measures/test_groups.py checks they agree.
Group = Literal["chronic", "prevention", "efficiency", "pertinence"]
GROUPS: dict[Group, str] = {
    "chronic": "Maladies chroniques",
    "prevention": "Prévention",
    "efficiency": "Efficience",
    "pertinence": "Pertinence",
}
Stratifier = Literal["age_band", "sex", "c2s", "ald", "commune"]
STRATIFIERS: tuple[Stratifier, ...] = ("age_band", "sex", "c2s", "ald", "commune")
EVENT_KINDS = ("condition", "drug", "lab", "procedure", "visit")
STATUS_KINDS = ("ald", "coverage")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Window(_Strict):
    """A look-back window ending on the reference date (both ends included)."""

    years: int = Field(0, ge=0)
    months: int = Field(0, ge=0)
    days: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if not (self.years or self.months or self.days):
            raise ValueError("a window needs years, months or days")
        return self

    def start(self, end: dt.date) -> dt.date:
        """First day of the window that ends on ``end`` (12 months ending 2025-12-31 start 2025-01-01)."""
        return minus(end, years=self.years, months=self.months, days=self.days) + dt.timedelta(days=1)

    def end_after(self, day: dt.date) -> dt.date:
        """The day a window opened by an event on ``day`` closes: a two-year test of 2023-03-01 is due
        again on 2025-03-01."""
        return minus(day, years=-self.years, months=-self.months) + dt.timedelta(days=self.days)

    def describe(self) -> str:
        parts = [(self.years, "an"), (self.months, "mois"), (self.days, "jour")]
        return " ".join(f"{n} {unit}{'s' if n > 1 and unit != 'mois' else ''}" for n, unit in parts if n)


def minus(day: dt.date, *, years: int = 0, months: int = 0, days: int = 0) -> dt.date:
    """Calendar subtraction: 2024-02-29 minus 1 year is 2023-02-28."""
    total = day.year * 12 + day.month - 1 - years * 12 - months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last)) - dt.timedelta(days=days)


class Episode(_Strict):
    """Treatment episodes: prescriptions chained when the next starts within ``gap_days`` of the last end.

    An episode is *initiated* when nothing was prescribed in the ``washout_days`` before it; with
    ``min_days`` only episodes lasting at least that long count (anxiolytics > 12 weeks: 85).
    """

    gap_days: int = Field(ge=0)
    washout_days: int = Field(0, ge=0)
    min_days: int | None = Field(None, ge=1)


class Criterion(_Strict):
    """One condition on a person; exactly one kind (an event, a status or a combination) is given.

    Event kinds count the person's events of a value set within the window: ``condition`` (CIM-10
    diagnoses), ``drug`` (prescriptions and vaccinations, ATC or CIP13), ``lab`` (NABM or LOINC
    results), ``procedure`` (CCAM), ``visit`` (NGAP consultations). Status kinds hold on a date:
    ``ald`` (an ALD whose CIM-10 code is in the value set, or ``any``) and ``coverage`` (C2S, AME).
    """

    condition: str | None = None
    drug: str | None = None
    lab: str | None = None
    procedure: str | None = None
    visit: str | None = None
    ald: str | None = None
    coverage: Literal["C2S", "AME"] | None = None
    any_of: tuple[Criterion, ...] | None = None
    all_of: tuple[Criterion, ...] | None = None
    within: Window | None = None
    ever: bool = False
    min_count: int = Field(1, ge=1)
    episode: Episode | None = None
    negate: bool = Field(False, alias="not")

    @model_validator(mode="after")
    def _one_kind(self) -> Criterion:
        given = [k for k in (*EVENT_KINDS, *STATUS_KINDS, "any_of", "all_of") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join((*EVENT_KINDS, *STATUS_KINDS, 'any_of', 'all_of'))}")
        if self.episode is not None and self.drug is None:
            raise ValueError("episode applies to drug criteria only")
        if self.within is not None and self.ever:
            raise ValueError("give within or ever, not both")
        for name in self.value_set_names():
            if name not in value_sets():
                raise ValueError(f"unknown value set {name!r} (vocab/valuesets/{name}.yaml)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in (*EVENT_KINDS, *STATUS_KINDS, "any_of", "all_of") if getattr(self, k) is not None)

    @property
    def value_set(self) -> str | None:
        value = getattr(self, self.kind)
        return value if isinstance(value, str) and self.kind != "coverage" and value != "any" else None

    def value_set_names(self) -> list[str]:
        own = [self.value_set] if self.value_set else []
        return own + [name for child in self.children for name in child.value_set_names()]

    @property
    def children(self) -> tuple[Criterion, ...]:
        return self.any_of or self.all_of or ()


class AgeRange(_Strict):
    """Age in completed years on the reference date, both bounds included."""

    min: int | None = Field(None, ge=0, le=120)
    max: int | None = Field(None, ge=0, le=120)


class Objectives(_Strict):
    intermediate: float | None = Field(None, ge=0)
    target: float | None = Field(None, ge=0)
    source: str | None = None


class Measure(_Strict):
    """An indicator: populations, criteria, objectives and the action a care gap calls for."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    short_label: str = Field(max_length=60)
    group: Group
    programme: tuple[Literal["ROSP", "FMT", "IPEP", "HAS", "CAPI"], ...] = ()
    source: Source
    scoring: Literal["proportion", "events_per_100"] = "proportion"
    direction: Literal["higher", "lower"] = "higher"
    population: Literal["patientele_mt", "seen", "all"] = "patientele_mt"
    window: Window = Window(months=12)
    age: AgeRange = AgeRange()
    sex: Literal["F", "M"] | None = None
    denominator: tuple[Criterion, ...] = ()
    exclusions: tuple[Criterion, ...] = ()
    numerator: tuple[Criterion, ...] = Field(min_length=1)
    objectives: Objectives = Objectives()
    minimum_denominator: int = Field(5, ge=1)
    stratifiers: tuple[Stratifier, ...] = STRATIFIERS
    action: str = Field(min_length=3)
    # Whether a gap is something to do for this patient now (call, prescribe, vaccinate). Indicators of past
    # prescribing practice (antibiotic courses) are not: they stay in the results, out of the work list.
    actionable: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Measure:
        if self.age.min is not None and self.age.max is not None and self.age.min > self.age.max:
            raise ValueError("age.min is above age.max")
        if self.scoring == "events_per_100":
            if len(self.numerator) != 1 or self.numerator[0].kind not in EVENT_KINDS or self.numerator[0].negate:
                raise ValueError("events_per_100 needs exactly one event criterion (not negated) in numerator")
        elif self.objectives.target is not None and self.objectives.target > 1:
            raise ValueError("objectives of a proportion are between 0 and 1")
        return self

    @property
    def gap_when_met(self) -> bool:
        """For a lower-is-better measure the numerator *is* the problem (e.g. benzodiazepines > 12 weeks)."""
        return self.direction == "lower"


def parse_measure(path: Path | resources.abc.Traversable) -> Measure:
    return parse_definition(path, Measure)


@cache
def library() -> dict[str, Measure]:
    """Every measure shipped with the package, by id, in file-name order."""
    files = sorted((p for p in LIBRARY.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    return {m.id: m for m in (parse_measure(p) for p in files)}


def measure(name: str) -> Measure:
    try:
        return library()[name]
    except KeyError:
        raise DefinitionError(f"no measure named {name!r}; see `proxisante measures list`") from None

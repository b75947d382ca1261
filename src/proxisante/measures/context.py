"""What every measure needs on a reference date: the persons, their médecin traitant, their status.

The context is built once per (warehouse, reference date) and shared by all the measures of a run:
the person table with age, sex, commune, C2S and ALD on that date, and the médecin traitant
declared on that date ("patientèle médecin traitant"). Value sets are resolved once to the concept
ids of the warehouse, so that the compiled queries filter integer columns with literal lists, which
every engine runs the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from proxisante.definitions import ParameterFile
from proxisante.measures.definition import Window, minus
from proxisante.vocab import mapping
from proxisante.vocab.valuesets import value_set
from proxisante.warehouse.expr import age_band, as_int, band_labels
from proxisante.warehouse.tables import Tables

# The measures' dated parameters (``measures/parameters.yaml``).
PARAMETERS = ParameterFile(__package__)


def age_band_labels() -> list[str]:
    return band_labels(PARAMETERS.value("age_bands"))


def _gender_ids(sex: str) -> list[int]:
    return sorted({int(row) for code, row in mapping("sex", "gender_concept_id").items() if _sex_of(code) == sex})


def _sex_of(code: str) -> str:
    return mapping("sex", "normalised")[code]


@dataclass
class Context:
    """Persons and their status on ``reference_date``, for one warehouse."""

    warehouse: Tables
    reference_date: dt.date
    cache_tables: bool = True
    # Pseudonyms left out of every population (patients who objected, for an external report).
    exclude_person_ids: frozenset[int] = frozenset()
    _persons: ir.Table | None = field(default=None, repr=False)
    _concepts: dict[tuple[str, str], list[int]] = field(default_factory=dict, repr=False)
    _by_vocabulary: dict[str, list[tuple[int, str]]] | None = field(default=None, repr=False)
    _shared: dict[str, ir.Table] = field(default_factory=dict, repr=False)

    def table(self, name: str) -> ir.Table:
        return self.warehouse.table(name)

    # -- persons -----------------------------------------------------------------------------

    @property
    def persons(self) -> ir.Table:
        """One row per person alive on the reference date: age, band, sex, commune, MT, C2S, ALD."""
        if self._persons is None:
            persons = self._build_persons()
            self._persons = persons.cache() if self.cache_tables else persons
        return self._persons

    def _build_persons(self) -> ir.Table:
        ref = self.reference_date
        person = self.table("person")
        birth = person.birth_datetime.cast("date").fill_null(
            ibis.date(person.year_of_birth, person.month_of_birth.fill_null(7), person.day_of_birth.fill_null(1))
        )
        female, male = _gender_ids("F"), _gender_ids("M")
        base = person.select(
            "person_id",
            birth_date=birth,
            sex=ibis.cases(
                (person.gender_concept_id.isin(female), "F"), (person.gender_concept_id.isin(male), "M"), else_="I"
            ),
            location_id=person.location_id,
        ).filter(lambda t: t.birth_date <= ref)
        if self.exclude_person_ids:
            base = base.filter(~base.person_id.isin(sorted(self.exclude_person_ids)))
        death = self.table("death")
        dead = death.filter(death.death_date <= ref).select("person_id").distinct()
        base = base.anti_join(dead, "person_id")
        location = self.table("location").select("location_id", commune=lambda t: t.location_source_value)
        base = base.left_join(location, "location_id").drop("location_id", "location_id_right")
        base = base.mutate(age=self._age(base.birth_date))
        base = base.mutate(age_band=age_band(base.age, PARAMETERS.value("age_bands")))
        mt = self._medecin_traitant()
        base = base.left_join(mt, "person_id").drop("person_id_right")
        return (
            base.left_join(self._status(), "person_id")
            .drop("person_id_right")
            .mutate(c2s=lambda t: t.c2s.fill_null(False), ald=lambda t: t.ald.fill_null(False))
        )

    def _age(self, birth: ir.DateValue) -> ir.IntegerValue:
        ref = self.reference_date
        later_in_year = (birth.month() * 100 + birth.day()) > (ref.month * 100 + ref.day)
        return (ibis.literal(ref.year) - birth.year() - as_int(later_in_year)).cast("int64")

    def _medecin_traitant(self) -> ir.Table:
        """The declaration in force on the reference date; the latest one if several overlap."""
        ref = self.reference_date
        mt = self.table("fr_mt_declaration")
        active = mt.filter(mt.start_date <= ref, mt.end_date.isnull() | (mt.end_date >= ref))
        order = ibis.window(group_by="person_id", order_by=[ibis.desc("start_date"), ibis.desc("mt_declaration_id")])
        ranked = active.mutate(rank=ibis.row_number().over(order))
        latest = ranked.filter(ranked.rank == 0).select("person_id", mt_provider_id=ranked.provider_id)
        provider = self.table("provider").select(
            mt_provider_id=lambda t: t.provider_id,
            mt_rpps=lambda t: t.provider_source_value,
            care_site_id=lambda t: t.care_site_id,
        )
        return latest.left_join(provider, "mt_provider_id").drop("mt_provider_id_right")

    def _status(self) -> ir.Table:
        ref = self.reference_date
        cov = self.table("fr_coverage_period")
        active = cov.filter(cov.start_date <= ref, cov.end_date.isnull() | (cov.end_date >= ref))
        return active.group_by("person_id").agg(
            c2s=(active.coverage_type == "C2S").any(), ald=(active.coverage_type == "ALD").any()
        )

    def shared(self, key: str, build: Callable[[], ir.Table]) -> ir.Table:
        """A table several measures need (a leaf criterion's facts), built and materialised once."""
        if key not in self._shared:
            table = build()
            self._shared[key] = table.cache() if self.cache_tables else table
        return self._shared[key]

    def release(self) -> None:
        """Drop the materialised tables of this context (a long-running server calls it after a run)."""
        if not self.cache_tables:
            return
        for table in [*self._shared.values(), *([self._persons] if self._persons is not None else [])]:
            table.release()
        self._shared.clear()
        self._persons = None

    # -- populations --------------------------------------------------------------------------

    def birth_bounds(self, min_age: int | None, max_age: int | None) -> tuple[dt.date | None, dt.date | None]:
        """Birth dates of people aged ``min_age`` to ``max_age`` on the reference date (bounds included)."""
        ref = self.reference_date
        latest = minus(ref, years=min_age) if min_age is not None else None
        earliest = minus(ref, years=max_age + 1) + dt.timedelta(days=1) if max_age is not None else None
        return earliest, latest

    def seen(self, window: Window) -> ir.Table:
        """Persons with at least one contact (visit) in the window."""
        visit = self.table("visit_occurrence")
        start = window.start(self.reference_date)
        in_window = visit.filter(visit.visit_start_date >= start, visit.visit_start_date <= self.reference_date)
        return in_window.select("person_id").distinct()

    # -- value sets -------------------------------------------------------------------------------

    def concept_ids(self, value_set_name: str, vocabulary: str) -> list[int]:
        """Concept ids of the warehouse whose code in ``vocabulary`` belongs to the value set."""
        key = (value_set_name, vocabulary)
        if key not in self._concepts:
            vs = value_set(value_set_name)
            codes = self._codes().get(vocabulary, []) if vocabulary in vs.codes else []
            self._concepts[key] = sorted(cid for cid, code in codes if vs.matches(vocabulary, code))
        return self._concepts[key]

    def _codes(self) -> dict[str, list[tuple[int, str]]]:
        """Every (concept id, code) of the concept table by vocabulary: one small query per run."""
        if self._by_vocabulary is None:
            frame = self.warehouse.execute(self.table("concept").select("concept_id", "vocabulary_id", "concept_code"))
            self._by_vocabulary = {}
            for cid, vocabulary, code in zip(frame.concept_id, frame.vocabulary_id, frame.concept_code, strict=True):
                self._by_vocabulary.setdefault(str(vocabulary), []).append((int(cid), str(code)))
        return self._by_vocabulary

"""Hand-written patients written straight into a warehouse, for the fixture test of each measure.

A test describes a few patients in a line each (birth date, sex, médecin traitant, coverage, coded
events) and writes *by hand* which populations each one belongs to; this module only turns the
description into warehouse rows. Codes get concept ids from a local counter through the concept
table, as a real load does, so the engine resolves value sets the way it does in production.

    centre = Centre()
    centre.patient("p1", born="1950-03-02", sex="F", drugs=[("A10BA02", "2025-02-01")],
                   labs=[("1577", "2025-03-01"), ("1577", "2025-09-01")])
    warehouse = centre.warehouse()
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import pyarrow as pa

from proxisante.vocab import mapping
from proxisante.warehouse.connection import Warehouse
from proxisante.warehouse.schema import TABLES_BY_NAME

Event = tuple[str, str] | tuple[str, str, str]  # (code, date) or (code, start date, end date)
VOCABULARY_OF = {"condition": "CIM10", "lab": "NABM", "loinc": "LOINC", "procedure": "CCAM", "visit": "NGAP"}
MT_PROVIDER, OTHER_PROVIDER = 1, 2
RPPS = {MT_PROVIDER: "10000000001", OTHER_PROVIDER: "10000000002"}


def day(text: str | dt.date) -> dt.date:
    return text if isinstance(text, dt.date) else dt.date.fromisoformat(text)


@dataclass
class Patient:
    name: str
    born: str
    sex: str = "F"
    mt: int | None = MT_PROVIDER
    mt_since: str = "2015-01-01"
    mt_until: str | None = None
    died: str | None = None
    commune: str = "18033"
    c2s: bool = False
    ald: tuple[str, ...] = ()
    conditions: list[Event] = field(default_factory=list)
    drugs: list[Event] = field(default_factory=list)
    labs: list[Event] = field(default_factory=list)
    loincs: list[Event] = field(default_factory=list)
    procedures: list[Event] = field(default_factory=list)
    visits: list[Event] = field(default_factory=list)


class Centre:
    """A tiny centre: two GPs (one is every patient's médecin traitant unless said otherwise)."""

    def __init__(self) -> None:
        self.patients: dict[str, Patient] = {}
        self._ids = itertools.count(1)
        self._concepts: dict[tuple[str, str], int] = {}

    def patient(self, name: str, born: str, **details: object) -> Patient:
        if name in self.patients:
            raise ValueError(f"patient {name} written twice")
        self.patients[name] = Patient(name, born, **details)  # type: ignore[arg-type]
        return self.patients[name]

    def person_id(self, name: str) -> int:
        return list(self.patients).index(name) + 1

    def names(self, person_ids: object) -> set[str]:
        """Patient names of a collection of person ids (to compare with the hand-written sets)."""
        by_id = {self.person_id(n): n for n in self.patients}
        return {by_id[int(p)] for p in person_ids}  # type: ignore[attr-defined]

    def concept(self, vocabulary: str, code: str) -> int:
        return self._concepts.setdefault((vocabulary, code), 2_000_000_000 + len(self._concepts) + 1)

    # -- rows --------------------------------------------------------------------------------

    def rows(self) -> dict[str, list[dict]]:
        tables: dict[str, list[dict]] = {name: [] for name in TABLES_BY_NAME}
        gender = mapping("sex", "gender_concept_id")
        for provider, rpps in RPPS.items():
            tables["provider"].append({"provider_id": provider, "provider_source_value": rpps, "care_site_id": 1})
        communes = sorted({p.commune for p in self.patients.values()})
        for commune in communes:
            tables["location"].append({"location_id": int(commune.replace("A", "0").replace("B", "1")),
                                       "location_source_value": commune})  # fmt: skip
        for name, p in self.patients.items():
            pid, born = self.person_id(name), day(p.born)
            tables["person"].append({
                "person_id": pid, "gender_concept_id": int(gender[p.sex]), "year_of_birth": born.year,
                "month_of_birth": born.month, "day_of_birth": born.day,
                "birth_datetime": dt.datetime.combine(born, dt.time()), "race_concept_id": 0,
                "ethnicity_concept_id": 0, "gender_source_value": p.sex,
                "location_id": int(p.commune.replace("A", "0").replace("B", "1")),
            })  # fmt: skip
            if p.died:
                tables["death"].append({"person_id": pid, "death_date": day(p.died), "death_type_concept_id": 32817})
            if p.mt is not None:
                tables["fr_mt_declaration"].append({
                    "mt_declaration_id": pid, "person_id": pid, "provider_id": p.mt,
                    "start_date": day(p.mt_since), "end_date": day(p.mt_until) if p.mt_until else None,
                })  # fmt: skip
            self._coverage(tables, pid, p)
            self._events(tables, pid, p)
        tables["concept"] = [
            {"concept_id": cid, "concept_name": code, "domain_id": "Local", "vocabulary_id": vocabulary,
             "concept_class_id": vocabulary, "concept_code": code, "valid_start_date": dt.date(1970, 1, 1),
             "valid_end_date": dt.date(2099, 12, 31)}
            for (vocabulary, code), cid in self._concepts.items()
        ]  # fmt: skip
        return tables

    def _coverage(self, tables: dict[str, list[dict]], pid: int, p: Patient) -> None:
        rows = tables["fr_coverage_period"]
        if p.c2s:
            rows.append({"coverage_period_id": next(self._ids), "person_id": pid, "coverage_type": "C2S",
                         "start_date": dt.date(2015, 1, 1), "end_date": None})  # fmt: skip
        for cim10 in p.ald:
            rows.append({"coverage_period_id": next(self._ids), "person_id": pid, "coverage_type": "ALD",
                         "start_date": dt.date(2015, 1, 1), "end_date": None, "cim10": cim10})  # fmt: skip

    def _events(self, tables: dict[str, list[dict]], pid: int, p: Patient) -> None:
        for code, *dates in p.conditions:
            tables["condition_occurrence"].append({
                "condition_occurrence_id": next(self._ids), "person_id": pid, "condition_concept_id": 0,
                "condition_start_date": day(dates[0]), "condition_type_concept_id": 32817,
                "condition_source_value": code, "condition_source_concept_id": self.concept("CIM10", code),
            })  # fmt: skip
        for code, *dates in p.drugs:
            atc = len(code) != 13
            start, end = day(dates[0]), day(dates[-1])
            tables["drug_exposure"].append({
                "drug_exposure_id": next(self._ids), "person_id": pid,
                "drug_concept_id": self.concept("ATC", code) if atc else 0,
                "drug_exposure_start_date": start, "drug_exposure_end_date": end,
                "drug_type_concept_id": 32838, "days_supply": (end - start).days + 1,
                "drug_source_value": code, "drug_source_concept_id": self.concept("ATC" if atc else "CIP13", code),
            })  # fmt: skip
        for vocabulary, events in (("NABM", p.labs), ("LOINC", p.loincs)):
            for code, *dates in events:
                cid = self.concept(vocabulary, code)
                tables["measurement"].append({
                    "measurement_id": next(self._ids), "person_id": pid,
                    "measurement_concept_id": cid if vocabulary == "LOINC" else 0,
                    "measurement_date": day(dates[0]), "measurement_type_concept_id": 32817,
                    "measurement_source_value": code, "measurement_source_concept_id": cid,
                })  # fmt: skip
        for code, *dates in p.procedures:
            tables["procedure_occurrence"].append({
                "procedure_occurrence_id": next(self._ids), "person_id": pid, "procedure_concept_id": 0,
                "procedure_date": day(dates[0]), "procedure_type_concept_id": 32817,
                "procedure_source_value": code, "procedure_source_concept_id": self.concept("CCAM", code),
            })  # fmt: skip
        for code, *dates in p.visits:
            tables["visit_occurrence"].append({
                "visit_occurrence_id": next(self._ids), "person_id": pid, "visit_concept_id": 9202,
                "visit_start_date": day(dates[0]), "visit_end_date": day(dates[0]), "visit_type_concept_id": 32817,
                "provider_id": p.mt or MT_PROVIDER, "visit_source_value": code,
                "visit_source_concept_id": self.concept("NGAP", code),
            })  # fmt: skip

    def write(self, warehouse: Warehouse) -> Warehouse:
        """Insert every row into ``warehouse`` (empty tables of any engine)."""
        for name, rows in self.rows().items():
            if rows:
                schema = TABLES_BY_NAME[name].schema.to_pyarrow()
                full = [{column: row.get(column) for column in schema.names} for row in rows]
                warehouse.backend.insert(name, pa.Table.from_pylist(full, schema=schema))
        return warehouse

    def warehouse(self) -> Warehouse:
        """An in-memory DuckDB warehouse holding this centre."""
        return self.write(Warehouse.connect("duckdb://"))


def members(centre: Centre, measure_id: str, period: str = "2025") -> dict[str, set[str]]:
    """Who is in each population of one measure, by patient name: the sets a test writes by hand."""
    from proxisante.measures.context import Context
    from proxisante.measures.definition import measure
    from proxisante.measures.periods import parse_period
    from proxisante.measures.results import per_person

    warehouse = centre.warehouse()
    chosen = parse_period(period)
    frame = warehouse.execute(per_person(measure(measure_id), Context(warehouse, chosen.end), chosen))
    return {
        "initial_population": centre.names(frame.person_id),
        "denominator": centre.names(frame.person_id[frame.in_denominator]),
        "exclusions": centre.names(frame.person_id[frame.in_exclusions]),
        "numerator": centre.names(frame.person_id[frame.in_numerator]),
    }

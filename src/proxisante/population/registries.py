"""Chronic disease registries: who has diabetes, hypertension, coronary disease... on a reference date.

A registry is data (``population/registries.yaml``): an id, a French label, its source and criteria
in the measure criterion syntax (``docs/measures.md``), e.g. diabetes = a diagnosis ever, or
antidiabetics in the last 12 months, or an ALD for diabetes. Each registry is compiled by the
measures compiler as a measure whose numerator is its criteria over every person alive on the date, so
a registry and an indicator never disagree on what "a diabetic" is. Codes live in value sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proxisante.definitions import DefinitionError, ParameterFile, Source, explain, load_yaml
from proxisante.measures.compile import MeasureCompiler
from proxisante.measures.context import Context
from proxisante.measures.definition import Criterion, Measure, Window
from proxisante.warehouse.expr import as_int, count_true

PARAMETERS = ParameterFile(__package__)
MEASURE_PARAMETERS = ParameterFile("proxisante.measures")
FILE = resources.files(__package__) / "registries.yaml"


class Reference(BaseModel):
    """A national prevalence to compare a registry with (share of the whole population)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prevalence: float = Field(ge=0, le=1)
    source: Source


class Registry(BaseModel):
    """One chronic disease: who belongs, why (source), and the national figure it compares with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=3)
    short_label: str = Field(min_length=2, max_length=60)
    source: Source
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    national: Reference | None = None
    note: str | None = None

    def as_measure(self) -> Measure:
        """The registry as a measure over every person alive: its numerator is the registry."""
        return Measure(
            id=self.id,
            label=self.label,
            short_label=self.short_label,
            group="chronic",
            source=self.source,
            population="all",
            window=Window(**PARAMETERS.value("registry_default_window")),
            numerator=self.criteria,
            stratifiers=(),
            action=f"Registre: {self.label}",
        )


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    registries: tuple[Registry, ...]


@cache
def registries() -> dict[str, Registry]:
    """Every registry of ``registries.yaml``, by id, in file order (read and checked once)."""
    try:
        parsed = RegistryFile.model_validate(load_yaml(FILE))
    except ValidationError as error:
        raise explain(FILE, error) from error
    ids = [r.id for r in parsed.registries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DefinitionError(f"{FILE}: registry {duplicates[0]!r} is defined twice")
    return {r.id: r for r in parsed.registries}


def registry(name: str) -> Registry:
    try:
        return registries()[name]
    except KeyError:
        raise DefinitionError(f"no registry named {name!r} in {FILE}") from None


def members(context: Context, name: str) -> ir.Table:
    """Persons alive on the reference date who belong to one registry: ``person_id`` and
    ``evidence_date`` (the last event that put them there, null for an ALD-only membership)."""
    table = MeasureCompiler(registry(name).as_measure(), context).per_person()
    table = table.filter(table.in_numerator)
    return table.select("person_id", "evidence_date")


def flags(context: Context, ids: Sequence[str] | None = None) -> ir.Table:
    """Every person alive on the reference date: ``person_id``, a boolean column per registry and
    ``n_registries``. Worth caching (``.cache()``) when several outputs use it: see ``api.Patientele``."""
    names = _names(ids)
    table = context.persons.select("person_id")
    for name in names:
        found = members(context, name).select(**{f"{name}_person": "person_id"})
        table = table.left_join(found, table.person_id == found[f"{name}_person"])
        table = table.mutate(**{name: table[f"{name}_person"].notnull()}).drop(f"{name}_person")
    count = sum((as_int(table[name]) for name in names), ibis.literal(0, "int64"))
    return table.mutate(n_registries=count)


def with_flags(
    table: ir.Table, context: Context, ids: Sequence[str] | None = None, registry_flags: ir.Table | None = None
) -> ir.Table:
    """``table`` (one row per person_id) with the registry columns and ``n_registries`` of ``flags``."""
    names = _names(ids)
    found = registry_flags if registry_flags is not None else flags(context, names)
    found = found.select(*names, flag_person=found.person_id, n_registries=found.n_registries)
    joined = table.left_join(found, table.person_id == found.flag_person).drop("flag_person")
    return joined.mutate(
        **{name: joined[name].fill_null(False) for name in names}, n_registries=joined.n_registries.fill_null(0)
    )


def _names(ids: Sequence[str] | None) -> list[str]:
    return list(ids) if ids is not None else list(registries())


POPULATIONS = ("patientele_mt", "seen", "all")


def population(context: Context, name: str) -> ir.Table:
    """``person_id`` of a population, in the measures' words: ``patientele_mt`` (a médecin
    traitant declaration in force), ``seen`` (a contact in the seen window) or ``all`` (alive)."""
    persons = context.persons
    if name == "patientele_mt":
        return persons.filter(persons.mt_provider_id.notnull()).select("person_id")
    if name == "seen":
        return persons.semi_join(context.seen(Window(**MEASURE_PARAMETERS.value("seen_window"))), "person_id").select(
            "person_id"
        )
    if name == "all":
        return persons.select("person_id")
    raise ValueError(f"population {name!r}: expected one of {', '.join(POPULATIONS)}")


def prevalence(
    context: Context,
    ids: Sequence[str] | None = None,
    registry_flags: ir.Table | None = None,
    among: str = "patientele_mt",
) -> pd.DataFrame:
    """Members of each registry in a population (default: the patientèle MT), next to the national prevalence.

    Columns: ``registry``, ``label``, ``members``, ``persons`` (size of the population), ``share`` and
    ``national`` (the reference share of registries.yaml). ``all`` counts every person alive in the
    warehouse, including those long gone from the structure: a diluted denominator.
    """
    names = _names(ids)
    table = with_flags(population(context, among), context, names, registry_flags)
    counted = table.aggregate(persons=table.person_id.count(), **{n: count_true(table[n]) for n in names})
    row = context.warehouse.execute(counted).iloc[0]
    persons = int(row["persons"])
    frame = pd.DataFrame(
        {
            "registry": names,
            "label": [registry(n).label for n in names],
            "members": [int(row[n]) if pd.notna(row[n]) else 0 for n in names],
            "persons": persons,
            "national": [national.prevalence if (national := registry(n).national) else None for n in names],
        }
    )
    frame["share"] = frame.members / persons if persons else float("nan")
    return frame[["registry", "label", "members", "persons", "share", "national"]]

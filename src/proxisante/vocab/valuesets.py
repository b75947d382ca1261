"""Value sets: named groups of codes (CIM-10, ATC, CIP13, NABM, LOINC, CCAM, NGAP) with their source.

A value set is one YAML file in ``vocab/valuesets/``; measures, registries and prevention plans name
value sets instead of listing codes. In the hierarchical vocabularies (CIM-10, ATC) a code stands for
itself and every code under it (``E11`` covers ``E11.9``, ``A10`` covers ``A10BA02``); in the others a
code matches exactly. ``exclude`` removes codes (with the same rule) from what ``codes`` selects.

Example::

    id: antidiabetics
    label: Médicaments du diabète (ATC A10)
    source: {text: "OMS, classification ATC/DDD 2025", date: 2025-01-01, confidence: C}
    codes: {ATC: [A10]}
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

M = TypeVar("M", bound=BaseModel)
VOCABULARIES = ("CIM10", "ATC", "CIP13", "NABM", "LOINC", "CCAM", "NGAP")
HIERARCHICAL = frozenset({"CIM10", "ATC"})
_DIRECTORY = resources.files(__package__) / "valuesets"


class DefinitionError(ValueError):
    """A definition file (value set, measure, registry) is invalid; the message names file and field."""


class Source(BaseModel):
    """Where a definition comes from: text, date and how sure we are (C confirmed, P probable, U unconfirmed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=3)
    date: dt.date
    url: str | None = None
    confidence: Literal["C", "P", "U"] = "C"


class ValueSet(BaseModel):
    """A named set of codes, by vocabulary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    source: Source
    codes: dict[str, tuple[str, ...]]
    exclude: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("codes", "exclude")
    @classmethod
    def _known_vocabularies(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        unknown = sorted(set(value) - set(VOCABULARIES))
        if unknown:
            raise ValueError(f"unknown vocabulary {unknown[0]!r}; expected one of {', '.join(VOCABULARIES)}")
        return {vocabulary: tuple(str(code).strip() for code in codes) for vocabulary, codes in value.items()}

    def matches(self, vocabulary: str, code: str) -> bool:
        """Whether ``code`` of ``vocabulary`` belongs to the set."""
        return _listed(self.codes.get(vocabulary, ()), vocabulary, code) and not _listed(
            self.exclude.get(vocabulary, ()), vocabulary, code
        )

    @property
    def vocabularies(self) -> tuple[str, ...]:
        return tuple(self.codes)


def _listed(listed: tuple[str, ...], vocabulary: str, code: str) -> bool:
    if vocabulary in HIERARCHICAL:
        return any(code.startswith(prefix) for prefix in listed)
    return code in listed


def load_yaml(path: Path | resources.abc.Traversable) -> dict:
    """A YAML mapping from a definition file, or a DefinitionError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise DefinitionError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise DefinitionError(f"{path}: expected a mapping at the top level")
    return data


def explain(path: object, error: ValidationError) -> DefinitionError:
    """Turn pydantic's error into one message naming the file and each bad field."""
    lines = [f"{path}: invalid definition"]
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  field {field}: {item['msg']}")
    return DefinitionError("\n".join(lines))


def parse_definition(path: Path | resources.abc.Traversable, model: type[M]) -> M:
    """A definition file validated into ``model``, whose ``id`` must be the file name."""
    try:
        definition = model.model_validate(load_yaml(path))
    except ValidationError as error:
        raise explain(path, error) from error
    stem = Path(str(path)).stem
    identifier = getattr(definition, "id", stem)
    if identifier != stem:
        raise DefinitionError(f"{path}: field id: {identifier!r} differs from the file name")
    return definition


def parse_value_set(path: Path | resources.abc.Traversable) -> ValueSet:
    return parse_definition(path, ValueSet)


@cache
def value_sets() -> dict[str, ValueSet]:
    """Every value set shipped with the package, by id."""
    found = [parse_value_set(p) for p in _DIRECTORY.iterdir() if p.name.endswith(".yaml")]
    return {v.id: v for v in sorted(found, key=lambda v: v.id)}


def value_set(name: str) -> ValueSet:
    try:
        return value_sets()[name]
    except KeyError:
        raise DefinitionError(f"no value set named {name!r} in {_DIRECTORY}") from None

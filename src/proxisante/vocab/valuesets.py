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

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from proxisante.definitions import DefinitionError, Source, parse_definition

VOCABULARIES = ("CIM10", "ATC", "CIP13", "NABM", "LOINC", "CCAM", "NGAP")
HIERARCHICAL = frozenset({"CIM10", "ATC"})
_DIRECTORY = resources.files(__package__) / "valuesets"


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


def parse_value_set(path: Path | Traversable) -> ValueSet:
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

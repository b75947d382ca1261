"""Code lists and value sets, kept as data files in ``vocab/data`` with their sources.

Each list is a CSV whose first column is ``code``; ``data/sources.yaml`` says where each file comes
from and when. A list is data, never a literal in code: correct the file, not the program.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources
from typing import Any

import yaml

_DATA = resources.files(__package__) / "data"


@cache
def code_list(name: str) -> tuple[dict[str, str], ...]:
    """Rows of ``data/<name>.csv`` as dictionaries (read once, then cached)."""
    resource = _DATA / f"{name}.csv"
    if not resource.is_file():
        raise KeyError(f"no code list named {name!r} in {_DATA}")
    # Decoded here with line ends kept (as ``open(newline="")`` would; a resource's ``open`` lacks it).
    with io.StringIO(resource.read_bytes().decode("utf-8"), newline="") as handle:
        return tuple(csv.DictReader(handle))


def codes(name: str) -> frozenset[str]:
    """The set of codes of a list."""
    return frozenset(row["code"] for row in code_list(name))


def mapping(name: str, column: str) -> dict[str, str]:
    """``code -> column`` for one list (e.g. ``mapping("sex", "normalised")``)."""
    return {row["code"]: row[column] for row in code_list(name)}


@cache
def sources() -> dict[str, dict[str, Any]]:
    """The source, date and scope of every list, keyed by file name."""
    with (_DATA / "sources.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def available() -> list[str]:
    """Names of every list shipped with the package."""
    return sorted(p.name.removesuffix(".csv") for p in _DATA.iterdir() if p.name.endswith(".csv"))


def omop_concept(name: str) -> int:
    """An OMOP concept id by its name in ``omop_concepts.csv`` (e.g. ``"type_ehr"`` -> 32817)."""
    return int(mapping("omop_concepts", "concept_id")[name])

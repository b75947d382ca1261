"""The dated parameters of the territory engine, read from ``territory/parameters.yaml``.

Every decay band, speed, threshold, conversion rule, age weight and CPTS figure is a value of that
file with its date, source and confidence (C, P, U); an entry missing one is refused when the file
is read. ``unconfirmed`` lists the U values an output depends on, so that it can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from proxisante.parameters import Parameter, read_parameters

FILE = resources.files(__package__) / "parameters.yaml"


@cache
def entries() -> dict[str, Parameter]:
    """Every parameter of the file, by name."""
    return read_parameters(FILE)


def value(name: str) -> Any:
    """The value of one parameter."""
    return entries()[name].value


def unconfirmed(names: list[str] | tuple[str, ...]) -> list[str]:
    """The names among ``names`` whose confidence is U (recalled or a modelling choice)."""
    return [name for name in names if entries()[name].confidence == "U"]


@dataclass(frozen=True)
class Decay:
    """A stepped decay of the 2SFCA: ``bounds[k]`` minutes (inclusive) → ``weights[k]``, 0 beyond the last."""

    name: str
    label: str
    bounds: tuple[float, ...]
    weights: tuple[float, ...]

    @property
    def max_minutes(self) -> float:
        return self.bounds[-1]


def decay(name: str | None = None) -> Decay:
    """A decay variant by parameter name (``decay_drees_2015``, ``decay_drees_2012``), the default when None."""
    name = name or value("decay_default")
    if not name.startswith("decay_"):
        name = f"decay_{name}"
    if name not in entries() or name == "decay_default":
        known = ", ".join(n.removeprefix("decay_") for n in entries() if n.startswith("decay_drees"))
        raise KeyError(f"unknown decay variant {name.removeprefix('decay_')!r} (known: {known})")
    spec = value(name)
    bands = sorted((float(bound), float(weight)) for bound, weight in spec["bands"])
    return Decay(name, spec["label"], tuple(b for b, _ in bands), tuple(w for _, w in bands))


def decay_variants() -> list[str]:
    """Short names of the decay variants of the file (``drees_2015``, ``drees_2012``)."""
    return [n.removeprefix("decay_") for n in entries() if n.startswith("decay_drees")]

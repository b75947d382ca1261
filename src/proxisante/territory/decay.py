"""The stepped decay of the 2SFCA, read from the ``decay_*`` entries of ``territory/parameters.yaml``.

A variant is a list of ``[minutes, weight]`` bands (``decay_drees_2015``, ``decay_drees_2012``);
``decay_default`` names the one used when the caller does not choose.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxisante.definitions import ParameterFile

PARAMETERS = ParameterFile(__package__)


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
    name = name or PARAMETERS.value("decay_default")
    if not name.startswith("decay_"):
        name = f"decay_{name}"
    entries = PARAMETERS.entries()
    if name not in entries or name == "decay_default":
        known = ", ".join(n.removeprefix("decay_") for n in entries if n.startswith("decay_drees"))
        raise KeyError(f"unknown decay variant {name.removeprefix('decay_')!r} (known: {known})")
    spec = PARAMETERS.value(name)
    bands = sorted((float(bound), float(weight)) for bound, weight in spec["bands"])
    return Decay(name, spec["label"], tuple(b for b, _ in bands), tuple(w for _, w in bands))

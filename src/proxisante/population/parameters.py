"""The dated parameters of the patientèle outputs, read from ``population/parameters.yaml``.

Every band, threshold and weight of this package is a value of that file with its date and source,
so that a team can see, discuss and correct it without touching the code. An entry missing its
value, date or source is refused when the file is read.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import ibis
import ibis.expr.types as ir

from proxisante.measures.definition import Window
from proxisante.parameters import Parameter, read_parameters

FILE = resources.files(__package__) / "parameters.yaml"


@cache
def entries() -> dict[str, Parameter]:
    """Every parameter of the file, by name, with its source (for the documentation and reports)."""
    return read_parameters(FILE)


def value(name: str) -> Any:
    """The value of one parameter."""
    return entries()[name].value


def window(name: str) -> Window:
    """A parameter that is a look-back window (``{months: 12}``)."""
    return Window(**value(name))


def stepped(name: str, amount: float) -> Any:
    """The result of the highest ``[minimum, result]`` line of a stepped parameter that ``amount`` reaches.

    Points and levels are written as steps (``[[75, 1], [85, 2]]``) so that the table in the YAML
    file reads as the rule; ``None`` when no step is reached.
    """
    reached = [result for minimum, result in value(name) if amount >= minimum]
    return reached[-1] if reached else None


def steps_case(column: ir.NumericValue, name: str, default: Any) -> ir.Value:
    """The same stepped rule as an Ibis expression, for a column of the warehouse."""
    cases = [(column >= minimum, result) for minimum, result in reversed(value(name))]
    return ibis.cases(*cases, else_=default)

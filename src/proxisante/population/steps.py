"""Stepped rules of ``population/parameters.yaml``: points and levels written as ``[minimum, result]`` steps.

Points and levels are written as steps (``[[75, 1], [85, 2]]``) so that the table in the YAML file
reads as the rule; the result is that of the highest step the amount reaches.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from proxisante.definitions import ParameterFile

PARAMETERS = ParameterFile(__package__)


def stepped(name: str, amount: float) -> Any:
    """The result of the highest ``[minimum, result]`` line of a stepped parameter that ``amount`` reaches.

    ``None`` when no step is reached.
    """
    reached = [result for minimum, result in PARAMETERS.value(name) if amount >= minimum]
    return reached[-1] if reached else None


def steps_case(column: ir.NumericValue, name: str, default: Any) -> ir.Value:
    """The same stepped rule as an Ibis expression, for a column of the warehouse."""
    cases = [(column >= minimum, result) for minimum, result in reversed(PARAMETERS.value(name))]
    return ibis.cases(*cases, else_=default)

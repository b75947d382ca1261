"""The dated security parameters of ``security.yaml`` (rate limits, password length, session length)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from proxisante.parameters import Parameter, read_parameters

SECURITY = resources.files(__package__) / "security.yaml"


@cache
def entries() -> dict[str, Parameter]:
    return read_parameters(SECURITY)


def value(name: str) -> Any:
    return entries()[name].value

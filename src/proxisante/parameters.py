"""Dated parameters: one value, the date it applies from, its source and how sure we are of it.

Every band, threshold, weight and rule of the engines lives in a YAML file of its package, one
entry per name; this module reads such a file and refuses an entry missing its value, date, source
or confidence (C confirmed, P probable, U unconfirmed), naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proxisante.vocab.valuesets import explain, load_yaml


class Parameter(BaseModel):
    """One dated value and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: Any
    since: dt.date
    source: str = Field(min_length=3)
    url: str | None = None
    confidence: Literal["C", "P", "U"]


def read_parameters(path: Path | resources.abc.Traversable) -> dict[str, Parameter]:
    """Every parameter of one YAML file, by name."""
    data = load_yaml(path)
    try:
        return {name: Parameter.model_validate(entry) for name, entry in data.items()}
    except ValidationError as error:
        raise explain(path, error) from error

"""The one reader of definition files and of dated, sourced parameters.

Every band, threshold, tariff, weight and rule of the project lives in a YAML file of its package,
with the date it applies from, its source and how sure we are of it (``confidence``: C confirmed in
the cited text, P partial or secondary source, U recalled or a modelling choice, *non confirmé*).
This module reads them all, so that a missing date or source is refused the same way everywhere,
with a message naming the file and the field.

- :func:`load_yaml`, :func:`explain` and :func:`parse_definition` read a definition file (value set,
  measure, registry, profile) into a pydantic model; :class:`Source` is the source of a definition.
- :class:`Parameter` is one named parameter: a single dated value (``value`` and ``since``) or a time
  series of dated values (``values: [[valid from, value], ...]``, a null value: no longer in force),
  read by date with :meth:`Parameter.at`.
- :class:`ParameterFile` is the accessor of a package's parameters file
  (``ParameterFile("proxisante.territory").value("apl_threshold")``), read once and cached.
- :func:`sourced_value` reads a figure written ``{value: ..., source: ...}`` without a date of its own
  (the synthetic centre's parameters), and :func:`dated_values` a bare ``[[date, value], ...]`` list.

Example of a parameters file::

    apl_threshold:
      value: 2.5
      since: 2017-01-01
      source: DREES, Études et résultats n° 1144 (2020)
      confidence: C
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

M = TypeVar("M", bound=BaseModel)
Confidence = Literal["C", "P", "U"]
CONFIDENCE_LABELS = {"C": "confirmé", "P": "source partielle", "U": "non confirmé"}
_DATE: TypeAdapter[dt.date] = TypeAdapter(dt.date)
_DATED: TypeAdapter[list[tuple[dt.date, Any]]] = TypeAdapter(list[tuple[dt.date, Any]])


class DefinitionError(ValueError):
    """A definition or parameters file is invalid; the message names the file and the field."""


class Source(BaseModel):
    """Where a definition comes from: text, date and how sure we are (C confirmed, P probable, U unconfirmed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=3)
    date: dt.date
    url: str | None = None
    confidence: Confidence = "C"


# ---------------------------------------------------------------------------------------------------
# Definition files


def load_yaml(path: Path | Traversable, *, fast: bool = False) -> dict:
    """A YAML mapping from a definition file, or a DefinitionError naming the file.

    ``fast`` uses PyYAML's C loader when it is there (ten times faster on a large file, same result).
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # a safe loader, C or Python
    except yaml.YAMLError as error:
        raise DefinitionError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise DefinitionError(f"{path}: expected a mapping at the top level")
    return data


def explain(path: object, error: ValidationError, within: str = "") -> DefinitionError:
    """Turn pydantic's error into one message naming the file and each bad field (under ``within``)."""
    lines = [f"{path}: invalid definition"]
    for item in error.errors():
        field = ".".join(str(part) for part in (within, *item["loc"]) if part != "") or "(top level)"
        lines.append(f"  field {field}: {item['msg']}")
    return DefinitionError("\n".join(lines))


def parse_definition(path: Path | Traversable, model: type[M]) -> M:
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


# ---------------------------------------------------------------------------------------------------
# Dated parameters


def _increasing(values: Iterable[tuple[dt.date, Any]]) -> None:
    dates = [since for since, _ in values]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise ValueError("values: dates must be strictly increasing")


class Parameter(BaseModel):
    """One named parameter: its dated values and where they come from.

    Written either as one dated value (``value`` and ``since``, the date it applies from) or as a
    time series (``values: [[valid from, value], ...]``); both are held as ``values``. ``value`` is
    the value in force today and ``since`` its date; :meth:`at` gives the value on any day and
    :meth:`average` over a calendar year. Economic parameters add a label, a unit and, for an
    uncertain value, a range: ``range: [low, high]`` in the value's unit, or ``range_relative:
    [-0.1, 0.1]`` (a factor applied to every number of a table).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    label: str = ""  # what it is, in French (economic parameters: required, 3 characters at least)
    unit: str = ""
    values: list[tuple[dt.date, Any]] = Field(min_length=1)
    source: str = Field(min_length=3)
    url: str | None = None
    confidence: Confidence
    range: tuple[float, float] | None = None
    range_relative: tuple[float, float] | None = None
    codes: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_value(cls, data: Any) -> Any:
        """``{value, since}`` is the one-value form of ``values: [[since, value]]``."""
        if not isinstance(data, dict) or ("value" not in data and "since" not in data):
            return data
        if "values" in data:
            raise ValueError("give value and since, or values, not both")
        if "since" not in data or "value" not in data:
            raise ValueError("since: a single value needs its date (since) and its value")
        try:
            since = _DATE.validate_python(data["since"])
        except ValidationError as error:
            raise ValueError(f"since: {error.errors()[0]['msg']}") from None
        rest = {key: item for key, item in data.items() if key not in ("value", "since")}
        return {**rest, "values": [(since, data["value"])]}

    @field_validator("label")
    @classmethod
    def _label(cls, text: str) -> str:
        if text and len(text.strip()) < 3:
            raise ValueError("a label has 3 characters at least")
        return text

    @field_validator("source")
    @classmethod
    def _stripped(cls, text: str) -> str:
        if len(text.strip()) < 3:
            raise ValueError("a source is required")
        return text.strip()

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        _increasing(self.values)
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError("range: low above high")
        if self.range is not None and self.range_relative is not None:
            raise ValueError("give range or range_relative, not both")
        if self.range is not None and not all(isinstance(v, int | float) or v is None for _, v in self.values):
            raise ValueError("range: only for a number; use range_relative for a table")
        return self

    @property
    def value(self) -> Any:
        """The value in force today (the only value of a one-value parameter)."""
        return self.at(dt.date.today())

    @property
    def since(self) -> dt.date:
        """The date from which :attr:`value` applies."""
        today = dt.date.today()
        return max((since for since, _ in self.values if since <= today), default=self.values[0][0])

    @property
    def first_date(self) -> dt.date:
        return self.values[0][0]

    @property
    def unconfirmed(self) -> bool:
        """Tagged ``U``: recalled or a working value, *non confirmé*; outputs that use it say so."""
        return self.confidence == "U"

    @property
    def uncertain(self) -> bool:
        """The parameter has a range: it enters the sensitivity analysis and the Monte Carlo draws."""
        return self.range is not None or self.range_relative is not None

    def at(self, day: dt.date) -> Any:
        """The value in force on ``day``; before the first date, the first value (``None`` once ended)."""
        current = self.values[0][1]
        for since, value in self.values:
            if since <= day:
                current = value
        return current

    def average(self, year: int) -> Any:
        """The value over a calendar year, weighted by the days each value was in force.

        A null value counts as zero (a forfait that ended); ``None`` when not in force at all that
        year. Lists (codes, bounds) are not averaged: the value in force on 1 January is returned.
        """
        start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
        pieces: list[tuple[int, Any]] = []
        cursor, value = start, self.at(start)
        for since, new in self.values:
            if start < since < end:
                pieces.append(((since - cursor).days, value))
                cursor, value = since, new
        pieces.append(((end - cursor).days, value))
        if all(v is None for _, v in pieces):
            return None
        present = [v for _, v in pieces if v is not None]
        if isinstance(present[0], list | str):
            return present[0]
        days = (end - start).days
        return _weighted([(d / days, v) for d, v in pieces])

    def display_values(self) -> str:
        """The dated values in one line (in French), for the documentation and the workbook."""
        parts = []
        for since, value in self.values:
            shown = "fin" if value is None else _display(value)
            parts.append(f"{shown} (dès {since:%d/%m/%Y})" if len(self.values) > 1 else shown)
        return " ; ".join(parts)

    def display_range(self) -> str:
        if self.range is not None:
            return f"{_display(self.range[0])} à {_display(self.range[1])}"
        if self.range_relative is not None:
            low, high = self.range_relative
            return f"{low:+.0%} à {high:+.0%}".replace("%", " %")
        return ""


def _weighted(pieces: list[tuple[float, Any]]) -> Any:
    template = next((v for _, v in pieces if v is not None), None)
    if template is None or isinstance(template, str | bool | list):  # a label, a flag, a code list: not averaged
        return template
    if isinstance(template, dict):
        return {key: _weighted([(w, None if v is None else v[key]) for w, v in pieces]) for key in template}
    return sum(w * (0.0 if v is None else float(v)) for w, v in pieces)


def _display(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_display(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_display(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def read_parameter(node: Any, path: object, name: str) -> Parameter:
    """One entry ``name`` of the file ``path`` as a :class:`Parameter`, or a DefinitionError naming both."""
    if not isinstance(node, dict):
        raise DefinitionError(f"{path}: field {name}: expected a mapping with its value, date and source")
    try:
        return Parameter.model_validate({**node, "name": name})
    except ValidationError as error:
        raise explain(path, error, name) from error


def read_parameters(path: Path | Traversable) -> dict[str, Parameter]:
    """Every parameter of one YAML file, by name."""
    return {name: read_parameter(node, path, str(name)) for name, node in load_yaml(path).items()}


@cache
def _file_entries(package: str, filename: str) -> dict[str, Parameter]:
    return read_parameters(resources.files(package).joinpath(*filename.split("/")))


class ParameterFile:
    """The parameters file of a package, read once: ``ParameterFile(__package__).value("name")``."""

    def __init__(self, package: str | None, filename: str = "parameters.yaml") -> None:
        if not package:
            raise ValueError("ParameterFile needs the package that holds the file (__package__)")
        self.package = package
        self.filename = filename

    def __repr__(self) -> str:
        return f"ParameterFile({self.package!r}, {self.filename!r})"

    @property
    def path(self) -> Traversable:
        return resources.files(self.package).joinpath(*self.filename.split("/"))

    def entries(self) -> dict[str, Parameter]:
        """Every parameter of the file, by name, with its source (for the documentation and reports)."""
        return _file_entries(self.package, self.filename)

    def parameter(self, name: str) -> Parameter:
        try:
            return self.entries()[name]
        except KeyError:
            raise KeyError(f"no parameter named {name!r} in {self.path}") from None

    def value(self, name: str) -> Any:
        """The value of one parameter (in force today)."""
        return self.parameter(name).value

    def unconfirmed(self, names: Iterable[str] | None = None) -> list[str]:
        """The names (among ``names``, every one by default) whose confidence is U, in their order."""
        chosen = self.entries() if names is None else names
        return [name for name in chosen if self.parameter(name).unconfirmed]


# ---------------------------------------------------------------------------------------------------
# Figures without a date of their own


def sourced_value(node: Any, where: str) -> Any:
    """The value of a figure written ``{value: ..., source: ...}`` (its date is its section's year)."""
    if isinstance(node, dict) and "value" in node and str(node.get("source") or "").strip():
        return node["value"]
    raise DefinitionError(f"{where}: expected a mapping with 'value' and 'source', got {node!r}")


def dated_values(steps: Any, where: str) -> list[tuple[dt.date, Any]]:
    """A bare ``[[valid from, value], ...]`` list, dates strictly increasing, or a DefinitionError."""
    try:
        values = _DATED.validate_python(steps)
        _increasing(values)
    except (ValidationError, ValueError) as error:
        raise DefinitionError(f"{where}: expected [[valid from, value], ...] with increasing dates ({error})") from None
    return values

"""The parameter catalogue of the economic model: every tariff, rule and weight as dated data.

Each file of ``economics/parameters/`` holds named entries; an entry's full name is
``<file>.<key>`` (``tariffs.G``, ``fpmt.per_patient``). An entry is a list of ``[valid from, value]``
pairs (a null value: no longer in force), a source, a confidence (``C`` confirmed in the cited text,
``P`` partial or secondary source, ``U`` recalled or working value, *non confirmé*) and, for an
uncertain value, a range: ``range: [low, high]`` in the value's unit, or ``range_relative: [-0.1, 0.1]``
(a factor applied to every number of a table). Values are read by date (:meth:`Parameter.at`) or
averaged over a calendar year, weighted by the days each value was in force (:meth:`Parameter.average`).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proxisante.vocab.valuesets import DefinitionError, explain, load_yaml

FOLDER = resources.files(__package__) / "parameters"
CONFIDENCE_LABELS = {"C": "confirmé", "P": "source partielle", "U": "non confirmé"}


class Parameter(BaseModel):
    """One dated parameter and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    label: str = Field(min_length=3)
    unit: str
    values: list[tuple[dt.date, Any]] = Field(min_length=1)
    source: str = Field(min_length=3)
    url: str | None = None
    confidence: Literal["C", "P", "U"]
    range: tuple[float, float] | None = None
    range_relative: tuple[float, float] | None = None
    codes: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        dates = [since for since, _ in self.values]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("values: dates must be strictly increasing")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError("range: low above high")
        if self.range is not None and self.range_relative is not None:
            raise ValueError("give range or range_relative, not both")
        if self.range is not None and not all(isinstance(v, int | float) or v is None for _, v in self.values):
            raise ValueError("range: only for a number; use range_relative for a table")
        return self

    @property
    def unconfirmed(self) -> bool:
        return self.confidence == "U"

    @property
    def uncertain(self) -> bool:
        """The parameter has a range: it enters the sensitivity analysis and the Monte Carlo draws."""
        return self.range is not None or self.range_relative is not None

    @property
    def first_date(self) -> dt.date:
        return self.values[0][0]

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
        """The dated values in one line, for the documentation and the workbook."""
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
    if template is None or isinstance(
        template, str | bool | list
    ):  # a label, a flag, a code list inside a table: not averaged
        return template
    if isinstance(template, dict):
        return {
            key: _weighted([(w, None if v is None else v[key]) for w, v in pieces]) for key in template
        }  # fmt: skip
    return sum(w * (0.0 if v is None else float(v)) for w, v in pieces)


def _display(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_display(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_display(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


@cache
def catalogue() -> dict[str, Parameter]:
    """Every parameter of ``economics/parameters/*.yaml`` by full name (``file.key``), checked on read."""
    found: dict[str, Parameter] = {}
    for path in sorted(FOLDER.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yaml"):
            continue
        stem = path.name.removesuffix(".yaml")
        for key, entry in load_yaml(path).items():
            try:
                found[f"{stem}.{key}"] = Parameter.model_validate({**entry, "name": f"{stem}.{key}"})
            except ValidationError as error:
                raise explain(f"{path} entry {key}", error) from error
            except TypeError as error:
                raise DefinitionError(f"{path} entry {key}: expected a mapping") from error
    return found


def parameter(name: str) -> Parameter:
    try:
        return catalogue()[name]
    except KeyError:
        raise KeyError(f"no economic parameter named {name!r}") from None


def tariff_of_code() -> dict[str, str]:
    """Act code → the tariff parameter that prices it (``G`` and ``GS`` → ``tariffs.G``)."""
    found = {}
    for name, p in catalogue().items():
        if name.startswith("tariffs."):
            for code in p.codes or [name.removeprefix("tariffs.")]:
                found[code] = name
    return found


def unconfirmed(names: object = None) -> list[Parameter]:
    """The parameters tagged ``U`` (of ``names`` when given), for the footnotes of every output."""
    chosen = catalogue().values() if names is None else [parameter(n) for n in names]  # type: ignore[attr-defined]
    return [p for p in chosen if p.unconfirmed]


def markdown_table() -> str:
    """The catalogue as the table of ``docs/parameters.md`` (kept in sync by a test)."""
    lines = ["| parameter | what | values (from) | unit | range | confidence | source |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, p in catalogue().items():
        source = " ".join(p.source.split()).replace("|", "/")
        lines.append(
            f"| `{name}` | {p.label} | {p.display_values()} | {p.unit} | {p.display_range()} "
            f"| {p.confidence} ({CONFIDENCE_LABELS[p.confidence]}) | {source} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown_table())

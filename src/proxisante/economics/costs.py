"""The yearly costs of a centre, from a YAML or CSV file: salaries by profession, premises, IT,
coordination and other costs.

A salary line gives the gross salary per FTE and the employer charge rate; its FTE comes from the
profile's staff unless the line gives one (support staff, who are not in the warehouse). A profile
profession without a salary line is refused: its cost would silently be zero.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proxisante.definitions import explain, load_yaml
from proxisante.economics.profile import Profile, ProfileError

EXAMPLE = resources.files(__package__) / "examples" / "costs_example.yaml"
OTHER_ITEMS = ("premises", "it", "coordination", "other")
ITEM_LABELS = {
    "salaries": "Salaires et charges",
    "premises": "Locaux",
    "it": "Informatique",
    "coordination": "Coordination",
    "other": "Autres charges",
}


class SalaryLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profession: str = Field(min_length=1)
    label: str | None = None
    gross_per_fte: float = Field(ge=0)
    employer_charge_rate: float = Field(ge=0, le=1.5)
    fte: float | None = Field(default=None, ge=0)


class Costs(BaseModel):
    """A cost file: amounts in euros per year (the profile's year; later years grow by ``modelling.cost_growth``)."""

    model_config = ConfigDict(extra="forbid")

    label: str = "Charges"
    example: bool = False
    salaries: list[SalaryLine] = Field(min_length=1)
    premises: float = Field(default=0.0, ge=0)
    it: float = Field(default=0.0, ge=0)
    coordination: float = Field(default=0.0, ge=0)
    other: float = Field(default=0.0, ge=0)

    def salary_lines(self, profile: Profile) -> list[tuple[SalaryLine, float, float]]:
        """(line, FTE, gross salaries) for every salaried profession; refuses a profession of the
        profile's staff that has no salary line."""
        by_profession = {line.profession: line for line in self.salaries}
        missing = sorted({s.profession for s in profile.staff if s.fte > 0} - set(by_profession))
        if missing:
            raise ProfileError(
                f"costs: field salaries: no line for profession {', '.join(missing)} of the profile's staff"
            )
        found = []
        for line in self.salaries:
            fte = line.fte if line.fte is not None else profile.fte(line.profession)
            found.append((line, fte, fte * line.gross_per_fte))
        return found

    def by_item(self, profile: Profile) -> dict[str, float]:
        salaries = sum(gross * (1 + line.employer_charge_rate) for line, _, gross in self.salary_lines(profile))
        return {"salaries": salaries, **{item: float(getattr(self, item)) for item in OTHER_ITEMS}}


def parse_costs(data: object, origin: object = "costs") -> Costs:
    try:
        return Costs.model_validate(data)
    except ValidationError as error:
        raise ProfileError(str(explain(origin, error))) from error


def load_costs(path: Path | None = None) -> Costs:
    """A cost file (YAML, or CSV with columns item, profession, fte, gross_per_fte,
    employer_charge_rate, amount); the shipped example when ``path`` is None."""
    if path is None:
        return parse_costs(load_yaml(EXAMPLE), EXAMPLE)
    if path.suffix.lower() == ".csv":
        return parse_costs(_from_csv(path), path)
    return parse_costs(load_yaml(path), path)


def _from_csv(path: Path) -> dict:
    data: dict = {"label": path.stem, "salaries": []}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(2048)
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=";" if sample.count(";") > sample.count(",") else ",")
        for number, row in enumerate(reader, start=2):
            item = (row.get("item") or "").strip()
            values = {k: (v or "").strip().replace(",", ".") for k, v in row.items() if k}
            if item == "salary":
                line = {k: values[k] for k in ("profession", "gross_per_fte", "employer_charge_rate") if values.get(k)}
                if values.get("fte"):
                    line["fte"] = values["fte"]
                data["salaries"].append(line)
            elif item in OTHER_ITEMS:
                data[item] = values.get("amount") or 0
            else:
                raise ProfileError(
                    f"{path} line {number}: field item: {item!r} is not salary, {', '.join(OTHER_ITEMS)}"
                )
    return data

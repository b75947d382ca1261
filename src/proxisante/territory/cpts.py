"""CPTS sizing: a territory (communes or an EPCI) → population → ACI tier → funding ceiling and missions.

Tiers, ceilings, running costs and mission deadlines are ``cpts_*`` parameters (ACI CPTS of 2019,
avenant 2 of 2021). A tier is the last one whose ``from_population`` the population reaches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from proxisante.definitions import ParameterFile
from proxisante.messages import CONFIDENCE

PARAMETERS = ParameterFile(__package__)


@dataclass(frozen=True)
class Mission:
    name: str
    kind: str
    start_months: int | None
    full_months: int | None
    start_by: dt.date | None = None
    full_by: dt.date | None = None


@dataclass
class CptsSizing:
    """The size, tier, funding ceiling and missions of one CPTS territory."""

    communes: pd.DataFrame
    unknown_codes: list[str]
    population: int
    tier: int
    max_funding_2019: int
    max_funding_avenant2: int | None
    running_costs: int
    early_running_costs: int
    missions: list[Mission] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the last day of the month when it does not exist)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def tier_of(population: int) -> dict:
    """The tier row of ``cpts_tiers`` for a population."""
    tiers = sorted(PARAMETERS.value("cpts_tiers"), key=lambda t: t["from_population"])
    return [t for t in tiers if population >= t["from_population"]][-1]


def size_cpts(
    reference: pd.DataFrame, codes: list[str] | None = None, epci: str | None = None, contract: dt.date | None = None
) -> CptsSizing:
    """Size the CPTS of the given communes (INSEE codes) and/or EPCI (SIREN code)."""
    wanted = reference["code"].isin(codes or [])
    if epci:
        wanted |= reference["epci"] == epci
    communes = reference[wanted].drop(columns=["geometry"], errors="ignore")
    unknown = sorted(set(codes or []) - set(communes["code"]))
    population = int(communes["population"].sum())
    tier = tier_of(population)
    missions = []
    for m in PARAMETERS.value("cpts_missions"):
        start = add_months(contract, m["start_months"]) if contract and m["start_months"] is not None else None
        full = add_months(contract, m["full_months"]) if contract and m["full_months"] is not None else None
        missions.append(Mission(m["name"], m["kind"], m["start_months"], m["full_months"], start, full))
    top = max(t["tier"] for t in PARAMETERS.value("cpts_tiers"))
    cited = {n: PARAMETERS.parameter(n) for n in ("cpts_tiers", "cpts_max_funding_avenant2_t4", "cpts_missions")}
    sources = {
        p.label: f"{CONFIDENCE[p.confidence]} ; source (en anglais) : {p.source.split('. ')[0]}" for p in cited.values()
    }
    return CptsSizing(
        communes=communes,
        unknown_codes=unknown,
        population=population,
        tier=tier["tier"],
        max_funding_2019=tier["max_funding_2019"],
        max_funding_avenant2=PARAMETERS.value("cpts_max_funding_avenant2_t4") if tier["tier"] == top else None,
        running_costs=tier["running_costs"],
        early_running_costs=tier["early_running_costs"],
        missions=missions,
        sources=sources,
    )

"""The payment-model simulation as the web app asks for it and shows it, shared by the JSON API and the pages."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from proxisante.economics.payments import MODELS
from proxisante.economics.uncertainty import Simulation
from proxisante.web.access import excluded, services, user_of


class ScenarioIn(BaseModel):
    """A simulation of the payment models (same options as ``proxisante economie simulate``)."""

    model_config = ConfigDict(extra="forbid")

    years: list[Annotated[int, Field(ge=2020, le=2040)]] = Field(default_factory=list, max_length=10)
    draws: int = Field(default=2_000, ge=100, le=20_000, description="tirages Monte Carlo")
    seed: int = Field(default=2026, ge=0, le=2**31 - 1)
    tornado_model: Literal["acte", "fmt", "peps_all", "peps_65", "peps_diabetics", "ipep"] = "acte"
    profile_year: int | None = Field(default=None, ge=2000, le=2100)


def simulate(request: Request, scenario: ScenarioIn) -> Simulation:
    """The simulation a scenario asks for (cached per load), objecting patients left out for a protected audience."""
    svc = services(request)
    return svc.simulation(
        tuple(sorted(set(scenario.years))),
        scenario.draws,
        scenario.seed,
        scenario.tornado_model,
        scenario.profile_year,
        excluded(user_of(request), svc),
    )


def simulation_summary(simulation: Simulation) -> dict[str, Any]:
    """A simulation as JSON-ready numbers (NaN and infinities as ``None``), for the API and the pages."""

    def num(value: Any) -> float | None:
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else round(number, 2)

    years = []
    for year in simulation.years:
        models = []
        for key, label in MODELS.items():
            r, b = simulation.results[year][key], simulation.bands[year][key]
            models.append(
                {
                    "model": key,
                    "label": label,
                    "revenue": num(r.revenue),
                    "cost": num(r.cost),
                    "result": num(r.result),
                    "margin": num(r.margin),
                    "result_p5": num(b.result[5]),
                    "result_p95": num(b.result[95]),
                    "probability_positive": num(b.probability_positive),
                    "break_even_per_gp_fte": num(r.break_even_per_gp_fte),
                }
            )
        years.append({"year": year, "models": models})
    tornado = [
        {
            "parameter": row.name,
            "label": row.label,
            "result_low": num(row.result_low),
            "result_high": num(row.result_high),
            "swing": num(row.swing),
        }
        for row in simulation.tornado[:10]
    ]
    profile = simulation.profile
    return {
        "centre": profile.centre,
        "profile_year": profile.year,
        "patients": profile.patients,
        "gp_fte": profile.fte("MG"),
        "draws": simulation.draws,
        "seed": simulation.seed,
        "years": years,
        "tornado_model": simulation.tornado_model,
        "tornado": tornado,
        "unconfirmed_parameters": [p.name for p in simulation.unconfirmed()],
        "costs_example": bool(simulation.costs.example),
        "costs_label": str(simulation.costs.label),
    }

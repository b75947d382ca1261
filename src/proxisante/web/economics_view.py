"""The payment-model simulation as the web app asks for it and shows it, shared by the JSON API and the pages.

The costs are the structure's when its managers gave them (uploaded or entered on the economics page), the
shipped EXAMPLE otherwise, said on every output. They are kept per scope under the data home
(``economics.costs.stored_path``), not per account or per session: they are the structure's own figures, and
every manager of the structure must see the same result. A scope's key is its FINESS (one structure), its
name (a CPTS, a set of structures) or ``reseau``; an account reads and writes the costs of the scope it
reads, which ``auth.authorize`` keeps inside its own structure.

The simulation is computed here through ``Services.cached`` (keyed by the costs' content), not by
``Services.simulation``, which knows the example costs only.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from proxisante.economics.catalogue import CONFIDENCE_LABELS, parameter
from proxisante.economics.costs import ITEM_LABELS, Costs, CostsError, costs_yaml, load_costs, stored_costs
from proxisante.economics.explain import model_texts
from proxisante.economics.payments import MODELS
from proxisante.economics.profile import Profile
from proxisante.economics.uncertainty import Simulation
from proxisante.economics.uncertainty import simulate as run_simulation
from proxisante.economics.years import parse_years
from proxisante.network.scope import Scope
from proxisante.web.access import excluded, scope_of, services, user_of
from proxisante.web.services import InputError, Services


class CostsRefused(InputError):
    """The scope's costs do not fit its profile (a profession of the staff without a salary line): French,
    shown beside the costs on the page, 422 from the API."""


class ScenarioIn(BaseModel):
    """A simulation of the payment models (same options as ``proxisante economie simulate``); ``years`` is a
    list or the command's text (``2025``, ``2024-2027``, ``2024,2026``)."""

    model_config = ConfigDict(extra="forbid")

    years: list[Annotated[int, Field(ge=2020, le=2040)]] = Field(
        default_factory=list,
        max_length=10,
        description="années simulées : une liste, ou le texte de la commande (2025, 2024-2027, 2024,2026)",
    )
    draws: int = Field(default=2_000, ge=100, le=20_000, description="tirages Monte Carlo")
    seed: int = Field(default=2026, ge=0, le=2**31 - 1)
    tornado_model: Literal["acte", "fmt", "peps_all", "peps_65", "peps_diabetics", "ipep"] = "acte"
    profile_year: int | None = Field(default=None, ge=2000, le=2100)

    @field_validator("years", mode="before")
    @classmethod
    def _years_text(cls, value: Any) -> Any:
        return parse_years(value) if isinstance(value, str) else value

    @property
    def years_text(self) -> str:
        """The years as the form shows them back: a range when they follow each other."""
        years = sorted(set(self.years))
        if len(years) > 2 and years == list(range(years[0], years[-1] + 1)):
            return f"{years[0]}-{years[-1]}"
        return ",".join(str(y) for y in years)


# -- the structure's costs ------------------------------------------------------------------------------


def costs_key(scope: Scope) -> str:
    """The key a scope's costs are kept under: its FINESS, its name (a CPTS, a set), or ``reseau``."""
    if scope.single is not None:
        return scope.single
    return "reseau" if scope.is_network else f"ensemble-{scope.name}"


def write_refusal(request: Request) -> str | None:
    """Why the account may not keep costs for the request's scope (French), or None. An account keeps the
    costs of its own scope only (its structure, its CPTS, the network for a network account): a network
    account that narrowed to a structure with ``?structure=`` reads that structure's costs, never writes them."""
    own = scope_of(user_of(request), request.state.registry)
    asked = services(request).scope
    if costs_key(own) == costs_key(asked):
        return None
    return (
        f"les charges de {asked.name} s'enregistrent depuis un compte de cette structure ; ce compte enregistre "
        f"celles de {own.name}"
    )


def home(request: Request):
    return request.app.state.web.settings.home_dir


def costs_of(request: Request) -> Costs:
    """The costs of the request's scope: those its managers gave, else the EXAMPLE (``costs.example``)."""
    return stored_costs(home(request), costs_key(services(request).scope)) or load_costs()


def costs_rows(costs: Costs, profile: Profile) -> list[dict[str, Any]]:
    """The rows of the entry form: every salary line of ``costs``, then each profession of the profile's
    staff that has none (empty, to fill in)."""
    rows = [
        {
            "profession": line.profession,
            "label": line.label or "",
            "fte": "" if line.fte is None else f"{line.fte:g}",
            "gross_per_fte": f"{line.gross_per_fte:g}",
            "employer_charge_rate": f"{line.employer_charge_rate:g}",
            "staff_fte": profile.fte(line.profession),
        }
        for line in costs.salaries
    ]
    known = {line.profession for line in costs.salaries}
    for profession in sorted({s.profession for s in profile.staff if s.fte > 0} - known):
        rows.append(
            {
                "profession": profession,
                "label": "",
                "fte": "",
                "gross_per_fte": "",
                "employer_charge_rate": "",
                "staff_fte": profile.fte(profession),
            }
        )
    return rows


# -- the simulation -------------------------------------------------------------------------------------


def simulate(request: Request, scenario: ScenarioIn, costs: Costs | None = None) -> Simulation:
    """The simulation a scenario asks for under the scope's costs (cached per load and per costs), objecting
    patients left out for a protected audience. Raises ``CostsError`` when the costs miss a profession of
    the profile's staff (the profile may change with a load)."""
    svc = services(request)
    gone = excluded(user_of(request), svc)
    chosen = costs or costs_of(request)
    return simulation_for(svc, scenario, chosen, gone)


def simulation_for(svc: Services, scenario: ScenarioIn, costs: Costs, gone: frozenset[int]) -> Simulation:
    profile = svc.profile(scenario.profile_year, gone)
    years = tuple(sorted(set(scenario.years))) or (profile.year,)

    def compute() -> Simulation:
        try:
            costs.by_item(profile)  # a profession of the staff without a salary line: refused before the draws
        except CostsError as error:
            raise CostsRefused(str(error)) from error
        return run_simulation(
            profile, costs, list(years), draws=scenario.draws, seed=scenario.seed, tornado_model=scenario.tornado_model
        )

    key = (years, scenario.draws, scenario.seed, scenario.tornado_model, scenario.profile_year, gone, costs_yaml(costs))
    return svc.cached("economics_simulation", key, compute)


def _num(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else round(number, 2)


def simulation_summary(simulation: Simulation) -> dict[str, Any]:
    """A simulation as JSON-ready numbers (NaN and infinities as ``None``), for the API and the pages: per year
    every model with its band, break-even band and difference with the current model, the revenue lines,
    the tornado, the explanation of each model and the glossary (``economics/models.yaml``)."""
    texts = model_texts()
    years = []
    for year in simulation.years:
        current = simulation.results[year][texts.current]
        models = []
        for key, label in MODELS.items():
            r, b = simulation.results[year][key], simulation.bands[year][key]
            models.append(
                {
                    "model": key,
                    "label": label,
                    "revenue": _num(r.revenue),
                    "cost": _num(r.cost),
                    "result": _num(r.result),
                    "margin": _num(r.margin),
                    "result_p5": _num(b.result[5]),
                    "result_p95": _num(b.result[95]),
                    "probability_positive": _num(b.probability_positive),
                    "break_even_per_gp_fte": _num(r.break_even_per_gp_fte),
                    "break_even_p5": _num(b.break_even_per_gp_fte[5]),
                    "break_even_p95": _num(b.break_even_per_gp_fte[95]),
                    "difference_with_current": None if key == texts.current else _num(r.result - current.result),
                }
            )
        years.append({"year": year, "models": models, "lines": revenue_lines(simulation, year)})
    profile = simulation.profile
    gp_fte = profile.fte("MG")
    return {
        "centre": profile.centre,
        "profile_year": profile.year,
        "patients": profile.patients,
        "gp_fte": gp_fte,
        "patients_per_gp_fte": _num(profile.patients / gp_fte) if gp_fte else None,
        "draws": simulation.draws,
        "seed": simulation.seed,
        "years": years,
        "current_model": texts.current,
        "explanations": [
            {"model": key, "name": t.name, "explanation": t.explanation, "source": t.source}
            for key, t in texts.models.items()
        ],
        "glossary": dict(texts.glossary),
        "tornado_model": simulation.tornado_model,
        "tornado_label": MODELS[simulation.tornado_model],
        "tornado_base": _num(simulation.tornado_base),
        "tornado": [
            {
                "parameter": row.name,
                "label": row.label,
                "range": parameter(row.name).display_range(),
                "result_low": _num(row.result_low),
                "result_high": _num(row.result_high),
                "swing": _num(row.swing),
                "confidence": CONFIDENCE_LABELS[row.confidence],
            }
            for row in simulation.tornado[:10]
        ],
        "unconfirmed_parameters": [p.name for p in simulation.unconfirmed()],
        "unconfirmed_labels": [p.label for p in simulation.unconfirmed()],
        "costs_example": bool(simulation.costs.example),
        "costs_label": str(simulation.costs.label),
        "costs_items": costs_items(simulation, simulation.years[0]),
    }


def revenue_lines(simulation: Simulation, year: int) -> list[dict[str, Any]]:
    """The revenue of each model line by line (the CLI's "Recettes par ligne"): a line absent from a model
    is ``None`` there."""
    results = simulation.results[year]
    names: list[str] = []
    for r in results.values():
        names += [n for n in r.lines if n not in names]
    return [
        {
            "line": name,
            "values": {k: _num(results[k].lines[name]) if name in results[k].lines else None for k in MODELS},
        }
        for name in names
    ]


def costs_items(simulation: Simulation, year: int) -> list[dict[str, Any]]:
    """The costs of ``year`` by item (salaries, premises…), in French, as the models count them."""
    costs = simulation.results[year][model_texts().current].costs
    return [{"item": ITEM_LABELS.get(k, k), "amount": _num(v)} for k, v in costs.items()]
